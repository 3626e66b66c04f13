package engines

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ContainerHFCache is where the host's Hugging Face cache is mounted.
const ContainerHFCache = "/root/.cache/huggingface"

// hfCacheDir is the host's Hugging Face cache: HF_HOME, else
// ~/.cache/huggingface.
func hfCacheDir(getenv func(string) string) (string, error) {
	if d := getenv("HF_HOME"); d != "" {
		return filepath.Abs(d)
	}
	home := getenv("HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("finding the Hugging Face cache: set HF_HOME: %w", err)
		}
		home = h
	}
	return filepath.Join(home, ".cache", "huggingface"), nil
}

// modelCached reports whether a snapshot of repo (owner/name) with a
// config.json is in the cache's hub directory.
func modelCached(cacheDir, repo string) bool {
	dir := filepath.Join(cacheDir, "hub", "models--"+strings.ReplaceAll(repo, "/", "--"), "snapshots")
	snaps, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, s := range snaps {
		if _, err := os.Stat(filepath.Join(dir, s.Name(), "config.json")); err == nil {
			return true
		}
	}
	return false
}

package config

import (
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// Prompts is prompts.yaml: named documents and prompt categories.
type Prompts struct {
	Documents  map[string]string   `yaml:"documents"`
	Categories map[string]Category `yaml:"categories"`
	// Order is the categories' order in the file.
	Order []string `yaml:"-"`
}

// Category is a group of prompts of similar input length with one fixed
// output length.
type Category struct {
	Description string   `yaml:"description"`
	MaxTokens   int      `yaml:"max_tokens"`
	Prompts     []Prompt `yaml:"prompts"`
}

// Prompt is one prompt; when Document names a document, the text sent is
// the document, a blank line, then Text.
type Prompt struct {
	ID       string `yaml:"id"`
	Document string `yaml:"document"`
	Text     string `yaml:"text"`
}

// LoadPrompts reads and validates a prompts.yaml.
func LoadPrompts(path string) (*Prompts, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading prompts: %w", err)
	}
	return ParsePrompts(path, data)
}

// ParsePrompts parses prompts.yaml content; file names it in errors.
func ParsePrompts(file string, data []byte) (*Prompts, error) {
	var p Prompts
	if err := decodeStrict(file, data, &p); err != nil {
		return nil, err
	}
	var root struct {
		Categories yaml.Node `yaml:"categories"`
	}
	if err := yaml.Unmarshal(data, &root); err == nil {
		for i := 0; i+1 < len(root.Categories.Content); i += 2 {
			p.Order = append(p.Order, root.Categories.Content[i].Value)
		}
	}
	if len(p.Categories) == 0 {
		return nil, fmt.Errorf("%s: categories: none defined", file)
	}
	for _, name := range p.Order {
		if !validName(name) {
			return nil, fmt.Errorf("%s: categories.%s: use lower-case letters, digits, '.', '_' and '-' (it becomes prompt=%s in benchmark names)", file, name, name)
		}
		c := p.Categories[name]
		if c.MaxTokens < 1 {
			return nil, fmt.Errorf("%s: categories.%s.max_tokens: %d: every category fixes its output length (≥ 1)", file, name, c.MaxTokens)
		}
		if len(c.Prompts) == 0 {
			return nil, fmt.Errorf("%s: categories.%s.prompts: none", file, name)
		}
		for i, pr := range c.Prompts {
			if pr.Text == "" {
				return nil, fmt.Errorf("%s: categories.%s.prompts[%d]: text is empty", file, name, i)
			}
			if _, ok := p.Documents[pr.Document]; pr.Document != "" && !ok {
				return nil, fmt.Errorf("%s: categories.%s.prompts[%d] (%s): document %q is not under documents", file, name, i, pr.ID, pr.Document)
			}
		}
	}
	return &p, nil
}

// Text returns the full text of a prompt.
func (p *Prompts) Text(pr Prompt) string {
	if pr.Document == "" {
		return pr.Text
	}
	return p.Documents[pr.Document] + "\n\n" + pr.Text
}

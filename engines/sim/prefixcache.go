package sim

import "container/list"

// The simulator's prefix cache, modelled on vLLM's automatic prefix
// caching (docs/engine-facts.md, "Prefix caching"):
//
//   - The text is split into blocks of CacheBlockTokens tokens. The
//     simulator tokenizes at four bytes a token (PromptTokens), so a block
//     is CacheBlockBytes bytes of the rendered text (promptText), and only
//     full blocks are cached ("We only cache full blocks",
//     docs/design/prefix_caching.md, VLLM@01ff8bff).
//   - Each block's hash covers the previous block's hash and the block's
//     own tokens, hash_block_tokens(parent_block_hash,
//     curr_block_token_ids, extra_keys) in vllm/v1/core/kv_cache_utils.py
//     (VLLM@001cabc1; stable): a block hits only if the whole text before
//     it is equal too, so a salt in the first block makes every block of a
//     prompt miss.
//   - A request's hit is the longest run of leading blocks found, at most
//     prompt tokens − 1 (get_computed_blocks: "When all tokens hit the
//     cache, we must recompute the last token to obtain logits",
//     max_cache_hit_length = request.num_tokens - 1, then whole blocks;
//     vllm/v1/core/kv_cache_manager.py, VLLM@003df296; stable), so a
//     prefill step always remains and produces the first token.
//   - A prompt's blocks enter the cache in the step that prefills them,
//     before the next sequence of that step looks up its own
//     (allocate_slots: "If an allocated block is already full of tokens,
//     we immediately add it to the cache block, so that the block can be
//     reused by other requests in the same batch", prefix_caching.md),
//     and the generated tokens' blocks when the sequence finishes
//     (request_block_hasher hashes request.all_token_ids, prompt and
//     output, "the block is completed with generated tokens";
//     kv_cache_utils.py). A conversation whose next prompt is the previous
//     prompt and answer so hits on both.
//   - Eviction is least recently used, and a request's blocks are freed
//     last block first so that its first blocks, shared by the most
//     prompts, are evicted last (prefix_caching.md, "Free": "the freed
//     blocks are added to the tail of the free queue in the reverse
//     order").
//
// Unlike vLLM the capacity (Config.PrefixCacheTokens) is its own budget,
// not the KV blocks the running batch leaves free: a block in use by a
// running sequence can be evicted, and KVTokens only scales the usage
// gauges.
const (
	CacheBlockTokens = 16                   // tokens in a cache block (vLLM's default block_size)
	CacheBlockBytes  = 4 * CacheBlockTokens // its bytes of text at PromptTokens' four bytes a token

	// DefaultPrefixCacheTokens is the capacity Config.PrefixCacheTokens 0
	// gives: 1<<20 tokens (65,536 blocks), the size of KVTokens' default
	// pool.
	DefaultPrefixCacheTokens = 1 << 20
)

// blockHash identifies a full block and everything before it.
type blockHash uint64

// blockHashes is the hash chain of text's full blocks.
func blockHashes(text string) []blockHash { return appendBlockHashes(nil, text) }

// appendBlockHashes continues the chain hs, the hashes of text's first
// len(hs) blocks, over text's further full blocks: a finished sequence's
// output blocks hash on from its prompt's.
func appendBlockHashes(hs []blockHash, text string) []blockHash {
	// FNV-1a, 64 bit, over the parent hash's 8 bytes and the block's.
	const offset, prime = 14695981039346656037, 1099511628211
	parent := uint64(0)
	if len(hs) > 0 {
		parent = uint64(hs[len(hs)-1])
	}
	for i := len(hs); (i+1)*CacheBlockBytes <= len(text); i++ {
		h := uint64(offset)
		for b := range 8 {
			h = (h ^ (parent >> (8 * b) & 0xff)) * prime
		}
		for _, c := range []byte(text[i*CacheBlockBytes : (i+1)*CacheBlockBytes]) {
			h = (h ^ uint64(c)) * prime
		}
		hs = append(hs, blockHash(h))
		parent = h
	}
	return hs
}

// prefixCache is a bounded set of blocks, least recently used first out.
// Only the scheduler's goroutine touches it.
type prefixCache struct {
	capacity int                         // in blocks; 0: off
	lru      *list.List                  // of blockHash, most recent at the front
	at       map[blockHash]*list.Element // where each cached block sits in lru
}

// newPrefixCache holds up to tokens tokens; tokens < CacheBlockTokens is
// a cache that is off.
func newPrefixCache(tokens int) *prefixCache {
	return &prefixCache{capacity: max(0, tokens) / CacheBlockTokens, lru: list.New(), at: map[blockHash]*list.Element{}}
}

func (c *prefixCache) on() bool { return c.capacity > 0 }

// lookup returns how many tokens of a prompt of promptTokens tokens,
// whose text has the block hashes hs, the cache holds: the longest run
// of leading blocks found, within promptTokens − 1. The blocks found
// become the most recently used.
func (c *prefixCache) lookup(hs []blockHash, promptTokens int) int {
	if !c.on() {
		return 0
	}
	limit := min(len(hs), (promptTokens-1)/CacheBlockTokens)
	n := 0
	for n < limit {
		if _, ok := c.at[hs[n]]; !ok {
			break
		}
		n++
	}
	c.touch(hs[:n])
	return n * CacheBlockTokens
}

// insert caches the blocks hs (a sequence's chain from its first block)
// and evicts the least recently used beyond capacity.
func (c *prefixCache) insert(hs []blockHash) {
	if !c.on() {
		return
	}
	c.touch(hs)
	for c.lru.Len() > c.capacity {
		last := c.lru.Back()
		delete(c.at, last.Value.(blockHash))
		c.lru.Remove(last)
	}
}

// touch makes hs the most recently used, the first block most of all.
func (c *prefixCache) touch(hs []blockHash) {
	for i := len(hs) - 1; i >= 0; i-- {
		if e, ok := c.at[hs[i]]; ok {
			c.lru.MoveToFront(e)
			continue
		}
		c.at[hs[i]] = c.lru.PushFront(hs[i])
	}
}

// len is the number of blocks cached.
func (c *prefixCache) len() int { return c.lru.Len() }

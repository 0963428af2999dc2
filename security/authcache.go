package security

import (
	"sync"

	"behalf/model"
	"behalf/store"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// authEntry is what Authenticate learned from the database about one credential: everything it needs
// to answer the next request from memory. It is never changed once cached (requests get copies of what
// they may change). Time-dependent rules are not cached: expiry and idle timeouts are checked against
// the clock on every request.
type authEntry struct {
	user     *model.User
	orgID    string
	perms    PermissionSet
	session  *model.Session // nil for an API key
	operator *model.User    // login on behalf: the staff member
	parent   *model.Session // login on behalf: the operator's own session
	apiKey   *model.APIKey
}

// deps are the change keys (store.SessionKey, UserKey, APIKeyKey) whose publication drops the entry.
func (e *authEntry) deps() []string {
	d := []string{store.UserKey(e.user.ID)}
	if e.session != nil {
		d = append(d, store.SessionKey(e.session.ID))
	}
	if e.operator != nil {
		d = append(d, store.UserKey(e.operator.ID))
	}
	if e.parent != nil {
		d = append(d, store.SessionKey(e.parent.ID))
	}
	if e.apiKey != nil {
		d = append(d, store.APIKeyKey(e.apiKey.ID))
	}
	return d
}

type tokenHash = [32]byte

// identityCache is a bounded LRU of authEntry by credential hash, with an index from change keys to the
// entries depending on them. A generation number, bumped by every invalidation, keeps a request that
// read the database before a change was announced from caching what it read: it only stores its entry
// if no invalidation happened since it looked.
type identityCache struct {
	mu    sync.Mutex
	lru   *simplelru.LRU[tokenHash, *authEntry]
	index map[string]map[tokenHash]struct{}
	gen   uint64
}

func newIdentityCache(size int) *identityCache {
	c := &identityCache{index: map[string]map[tokenHash]struct{}{}}
	// The eviction callback runs inside lru calls, which are made with c.mu held.
	l, err := simplelru.NewLRU[tokenHash, *authEntry](size, func(h tokenHash, e *authEntry) { c.unindex(h, e) })
	if err != nil {
		panic(err) // size > 0 is checked by the caller
	}
	c.lru = l
	return c
}

// get returns the entry for h, if cached, and the current generation to pass to put.
func (c *identityCache) get(h tokenHash) (*authEntry, uint64, bool) {
	c.mu.Lock()
	e, ok := c.lru.Get(h)
	g := c.gen
	c.mu.Unlock()
	return e, g, ok
}

// put caches e under h unless an invalidation happened since generation gen was read.
func (c *identityCache) put(h tokenHash, e *authEntry, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	c.lru.Add(h, e)
	for _, k := range e.deps() {
		m := c.index[k]
		if m == nil {
			m = map[tokenHash]struct{}{}
			c.index[k] = m
		}
		m[h] = struct{}{}
	}
}

// drop removes h (an entry the database no longer confirms).
func (c *identityCache) drop(h tokenHash) {
	c.mu.Lock()
	c.lru.Remove(h)
	c.mu.Unlock()
}

func (c *identityCache) unindex(h tokenHash, e *authEntry) {
	for _, k := range e.deps() {
		if m := c.index[k]; m != nil {
			delete(m, h)
			if len(m) == 0 {
				delete(c.index, k)
			}
		}
	}
}

// invalidate drops every entry depending on one of keys (everything for store.FlushAll).
func (c *identityCache) invalidate(keys []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, k := range keys {
		if k == store.FlushAll {
			c.lru.Purge()
			clear(c.index)
			return
		}
		for h := range c.index[k] {
			c.lru.Remove(h) // unindexes h, also from c.index[k]: ranging over a map while deleting is safe
		}
	}
}

// len returns how many entries are cached.
func (c *identityCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

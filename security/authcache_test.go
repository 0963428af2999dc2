package security

import (
	"testing"

	"behalf/model"
	"behalf/store"
)

// TestIdentityCacheGenerations: an entry read from the database before an invalidation is not cached
// after it (the read may predate the change), and an invalidation drops exactly the entries depending
// on the key; the index follows evictions.
func TestIdentityCacheGenerations(t *testing.T) {
	c := newIdentityCache(2)
	entry := func(user, session string) *authEntry {
		return &authEntry{user: &model.User{ID: user}, session: &model.Session{ID: session}}
	}
	h1, h2, h3 := tokenHash{1}, tokenHash{2}, tokenHash{3}

	_, gen, _ := c.get(h1)
	c.invalidate([]string{store.UserKey("someone else")})
	c.put(h1, entry("u1", "s1"), gen)
	if _, _, ok := c.get(h1); ok {
		t.Fatal("an entry read before an invalidation was cached after it")
	}

	_, gen, _ = c.get(h1)
	c.put(h1, entry("u1", "s1"), gen)
	c.put(h2, entry("u2", "s2"), gen)
	c.invalidate([]string{store.SessionKey("s2")})
	if _, _, ok := c.get(h2); ok {
		t.Error("s2 survived its invalidation")
	}
	if _, _, ok := c.get(h1); !ok {
		t.Error("s1 dropped by s2's invalidation")
	}

	// Eviction (size 2) unindexes: the index does not grow with evicted entries.
	_, gen, _ = c.get(h2)
	c.put(h2, entry("u2", "s2"), gen)
	c.put(h3, entry("u3", "s3"), gen) // evicts h1, the least recently used
	if _, ok := c.index[store.SessionKey("s1")]; ok || c.len() != 2 {
		t.Errorf("after eviction: index has s1 %v, %d entries", ok, c.len())
	}
	c.invalidate([]string{store.FlushAll})
	if c.len() != 0 || len(c.index) != 0 {
		t.Errorf("after a flush: %d entries, %d index keys", c.len(), len(c.index))
	}
}

package loaders

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"behalf/model"
)

// TestAnnouncedKeysLoadInOneBatch: 100 concurrent Loads of announced keys cost one fetch, missing
// keys load as nil, and a later Load of a known key costs nothing.
func TestAnnouncedKeysLoadInOneBatch(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	l := New(Fetchers{Organizations: func(_ context.Context, ids []string) ([]*model.Organization, error) {
		calls.Add(1)
		out := make([]*model.Organization, len(ids))
		for i, id := range ids {
			if id != "missing" {
				out[i] = &model.Organization{ID: id}
			}
		}
		return out, nil
	}})
	var keys []string
	for i := range 100 {
		keys = append(keys, fmt.Sprintf("o%d", i))
	}
	keys = append(keys, "missing")
	l.Organizations.Expect(keys...)
	var wg sync.WaitGroup
	got := make([]*model.Organization, len(keys))
	errs := make([]error, len(keys))
	for i, k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = l.Organizations.Load(context.Background(), k)
		}()
	}
	wg.Wait()
	for i, k := range keys {
		if errs[i] != nil {
			t.Fatalf("load %s: %v", k, errs[i])
		}
		if (k == "missing") != (got[i] == nil) || (got[i] != nil && got[i].ID != k) {
			t.Fatalf("load %s = %+v", k, got[i])
		}
	}
	if _, err := l.Organizations.Load(context.Background(), "o7"); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
}

// TestToManyEdgesAreEmptyLists: a to-many loader answers an empty list, never nil, for a key without
// rows, and announces the rows it found (a contact's accounts announce the accounts' contacts).
func TestToManyEdgesAreEmptyLists(t *testing.T) {
	t.Parallel()
	cid := "c1"
	l := New(Fetchers{AccountsOfContacts: func(_ context.Context, ids []string) (map[string][]*model.User, error) {
		return map[string][]*model.User{"c1": {{ID: "u1", ContactID: &cid}}}, nil
	}})
	l.Accounts.Expect("c1", "c2")
	us, err := l.Accounts.Load(context.Background(), "c2")
	if err != nil || us == nil || len(us) != 0 {
		t.Fatalf("accounts of c2 = %v, %v; want an empty list", us, err)
	}
	l.Contacts.mu.Lock()
	announced := l.Contacts.pending["c1"]
	l.Contacts.mu.Unlock()
	if !announced {
		t.Fatal("the accounts' contact was not announced")
	}
}

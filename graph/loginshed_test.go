package graph_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"behalf/config"
	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/security"
	"behalf/store"

	"gorm.io/gorm"
)

// TestLoginRefusedForLoadRunsNothing: while every hashing slot is busy and the queue full, a login is
// refused with 429 and a Retry-After before any resolver runs: no statement, no audit event, no
// hash. Once a slot frees, the same login signs in (and is audited). Wrapping the login in a fragment
// does not get it past the refusal into the resolver, where a refusal is audited (a write per login).
func TestLoginRefusedForLoadRunsNothing(t *testing.T) {
	t.Parallel()
	for name, login := range map[string]string{
		"plain":           wrongLogin,
		"inline fragment": `mutation($l:String!,$p:String!){ ... on Mutation { login(login:$l, password:$p){ token } } }`,
		"named fragment":  `mutation($l:String!,$p:String!){ ...L } fragment L on Mutation { login(login:$l, password:$p){ token } }`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testLoginRefusedForLoad(t, login)
		})
	}
}

func testLoginRefusedForLoad(t *testing.T, wrongLogin string) {
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db, func(c *config.Config) { c.MaxConcurrentHashes, c.HashQueue, c.HashWait = 1, 0, time.Minute })
		env.CreateUser("shed.user", []string{security.RoleCustomer}, nil)
		counter, err := store.CountStatements(db)
		if err != nil {
			t.Fatal(err)
		}
		h := env.App.Security.Hasher()
		release, err := h.Acquire(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		before, verified := counter.Total(), h.Verified()
		vars := map[string]any{"l": "shed.user", "p": apptest.DefaultPassword}
		res := env.Do("", wrongLogin, vars)
		ra, _ := strconv.Atoi(res.Header.Get("Retry-After"))
		if res.Status != http.StatusTooManyRequests || res.Code() != "TOO_MANY_REQUESTS" || ra < 1 || ra > 30 {
			t.Fatalf("login with the hasher full: %d, Retry-After %q: %s", res.Status, res.Header.Get("Retry-After"), res.Raw)
		}
		if n := counter.Total() - before; n != 0 || h.Verified() != verified || len(env.AuditEvents()) != 0 {
			t.Fatalf("the refusal ran %d statements, %d hashes, %d audit events", n, h.Verified()-verified, len(env.AuditEvents()))
		}
		release()
		if res := env.Do("", wrongLogin, vars); res.Status != http.StatusOK || res.Code() != "" {
			t.Fatalf("login with a free slot: %d %s", res.Status, res.Raw)
		}
		if evs := env.AuditEvents(); len(evs) != 1 || evs[0].Action != "auth.login" {
			t.Fatalf("audit events after the login: %+v", evs)
		}
	})
}

// BenchmarkLoginRefusal measures what a login refused for load costs the server (the whole handler),
// against a search of the same small directory: go test -run '^$' -bench LoginRefusal -benchmem ./graph/
func BenchmarkLoginRefusal(b *testing.B) {
	env := apptest.New(b, dbtest.SQLite(b), func(c *config.Config) { c.MaxConcurrentHashes, c.HashQueue = 1, 0 })
	release, err := env.App.Security.Hasher().Acquire(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	defer release()
	body, _ := json.Marshal(map[string]any{"operationName": "login", "query": `mutation login($l: String!, $p: String!) { login(login: $l, password: $p) { token } }`,
		"variables": map[string]any{"l": "storm", "p": "bench password 1234"}})
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		env.App.Handler.ServeHTTP(w, r)
		if w.Code != http.StatusTooManyRequests {
			b.Fatalf("%d %s", w.Code, w.Body.String())
		}
	}
}

package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/model"
	"behalf/security"
	"behalf/store"

	"gorm.io/gorm"
)

// authTokens sets up an in-process server on db with its background work running (so the identity
// cache is trusted on PostgreSQL too), and returns it with a session token, a login-on-behalf token and
// an API key.
func authTokens(tb testing.TB, db *gorm.DB) (*apptest.Env, map[string]string) {
	tb.Helper()
	env := apptest.New(tb, db)
	env.StartBackground()
	customer, custTok := env.UserWithToken("carla.customer", security.RoleCustomer)
	staff, staffTok := env.UserWithToken("sally.support", security.RoleSupport)
	var parent model.Session
	if err := env.DB.First(&parent, "token_hash = ?", security.HashToken(staffTok)).Error; err != nil {
		tb.Fatal(err)
	}
	opt := env.App.Security.Options()
	ob, err := env.App.Security.NewSession(context.Background(), security.NewSessionInput{
		User: customer, Operator: staff, Parent: &parent, Reason: "cost", TTL: opt.OnBehalfTTL, Idle: opt.OnBehalfIdle,
	})
	if err != nil {
		tb.Fatal(err)
	}
	var key struct {
		GenerateAPIKey struct{ Secret string } `json:"generateApiKey"`
	}
	env.MustDo(custTok, `mutation{ generateApiKey(name:"cost") { secret } }`, nil, &key)
	return env, map[string]string{"session": custTok, "onbehalf": ob.Token, "apikey": key.GenerateAPIKey.Secret}
}

var meBody, _ = json.Marshal(map[string]any{"query": `{ me { id } }`})

// postMe sends `{ me { id } }` with token (none: anonymous) and fails unless it succeeds.
func postMe(tb testing.TB, h http.Handler, token string) {
	r := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(meBody))
	r.Header.Set("Content-Type", "application/json")
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK || bytes.Contains(w.Body.Bytes(), []byte(`"errors"`)) {
		tb.Fatalf("%d %s", w.Code, w.Body.String())
	}
}

// TestAuthenticatedRequestRunsNoStatement: in steady state (each credential used once before), an
// authenticated `{ me { id } }` runs no SQL statement at all, for a session, a login-on-behalf session
// and an API key, on both dialects; a revocation is still effective on the next request.
func TestAuthenticatedRequestRunsNoStatement(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env, tokens := authTokens(t, db)
		counter, err := store.CountStatements(db)
		if err != nil {
			t.Fatal(err)
		}
		for name, tok := range tokens {
			postMe(t, env.App.Handler, tok) // fills the cache
			before := counter.Total()
			for range 20 {
				postMe(t, env.App.Handler, tok)
			}
			if n := counter.Total() - before; n != 0 {
				t.Errorf("%s: 20 requests in steady state ran %d statements, want 0", name, n)
			}
		}
		if env.App.Security.CachedIdentities() != len(tokens) {
			t.Errorf("cache holds %d identities, want %d", env.App.Security.CachedIdentities(), len(tokens))
		}
		// The cache does not outlive a revocation: logout, then the next request is refused.
		env.MustDo(tokens["session"], `mutation{ logout }`, nil, nil)
		if r := env.Do(tokens["session"], `{ me { id } }`, nil); r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("after logout: %s", r.Raw)
		}
	})
}

// BenchmarkAuthCost measures what authentication adds to a request in steady state (identity cache
// warm): each iteration sends `{ me { id } }` anonymously and then with the credential, so a loaded
// machine slows both alike; it reports the medians of both times and of their difference per pair
// (added-ns/op). The README's performance section reports it.
//
//	bash scripts/test.sh -run '^$' -bench AuthCost ./graph/
func BenchmarkAuthCost(b *testing.B) {
	for _, d := range dialects() {
		b.Run(d, func(b *testing.B) {
			env, tokens := authTokens(b, dbtest.Open(b, d))
			for _, kind := range []string{"session", "onbehalf", "apikey"} {
				b.Run(kind, func(b *testing.B) {
					tok := tokens[kind]
					postMe(b, env.App.Handler, tok)
					// Medians of the pairs: a loaded machine's spikes hit single requests, not the median.
					var anon, auth, added []time.Duration
					for b.Loop() {
						t0 := time.Now()
						postMe(b, env.App.Handler, "")
						t1 := time.Now()
						postMe(b, env.App.Handler, tok)
						t2 := time.Now()
						anon, auth, added = append(anon, t1.Sub(t0)), append(auth, t2.Sub(t1)), append(added, t2.Sub(t1)-t1.Sub(t0))
					}
					b.ReportMetric(float64(median(anon).Nanoseconds()), "anonymous-ns/op")
					b.ReportMetric(float64(median(auth).Nanoseconds()), "authenticated-ns/op")
					b.ReportMetric(float64(median(added).Nanoseconds()), "added-ns/op")
				})
			}
		})
	}
}

// median returns the middle value of ds (which it sorts).
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

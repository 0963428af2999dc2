package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime/metrics"
	"strings"
	"testing"

	"behalf/config"
	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/model"
	"behalf/security"
	"behalf/store"
)

// leanEnv is a SQLite server with 60 products and an administrator's token.
func leanEnv(t testing.TB) (*apptest.Env, string) {
	env := apptest.New(t, dbtest.SQLite(t))
	ctx := store.WithStamp(context.Background(), store.Stamp{Login: "lean"})
	for i := range 60 {
		p := &model.Product{ID: model.NewID(), SKU: fmt.Sprintf("SKU-%03d", i), Name: fmt.Sprintf("Product <%d>", i),
			Description: "A catalog item", PriceMinor: int64(100 + i), Currency: "EUR", Stock: 10}
		if err := env.DB.WithContext(ctx).Create(p).Error; err != nil {
			t.Fatal(err)
		}
	}
	_, tok := env.UserWithToken("lean.admin", security.RoleAdministrator)
	return env, tok
}

const catalogPage = `{ products(first: 50) { edges { cursor node { id sku name description price { amount currency } stock } } } }`

// serve posts a GraphQL query through the whole handler and returns the response body.
func serve(t testing.TB, h http.Handler, tok, query string) []byte {
	body, err := json.Marshal(map[string]any{"query": query})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK || bytes.Contains(w.Body.Bytes(), []byte(`"errors"`)) {
		t.Fatalf("%d %s", w.Code, w.Body.String())
	}
	return w.Body.Bytes()
}

// goroutinesCreated is how many goroutines the process has started so far.
func goroutinesCreated(t *testing.T) uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		t.Fatalf("metric %s unsupported", s[0].Name)
	}
	return s[0].Value.Uint64()
}

// TestPlainListsMarshalWithoutGoroutines: a page of 50 products (plain fields only, no resolver below
// the list) is marshalled in the goroutine of its root field, not in a goroutine per element (gqlgen's
// default, which internal/gqlgen rewrites for such lists). The count is process-wide, so other
// goroutines may add a few; gqlgen's default would add at least 50 per request.
func TestPlainListsMarshalWithoutGoroutines(t *testing.T) {
	// Not parallel: the count covers the whole process.
	env, tok := leanEnv(t)
	serve(t, env.App.Handler, tok, catalogPage) // warm: identity cache, query cache, connections
	const requests = 5
	before := goroutinesCreated(t)
	for range requests {
		out := serve(t, env.App.Handler, tok, catalogPage)
		if n := bytes.Count(out, []byte(`"sku"`)); n != 50 {
			t.Fatalf("%d products in %s", n, out)
		}
	}
	n := goroutinesCreated(t) - before
	t.Logf("%d goroutines started for %d pages", n, requests)
	if n > requests*10 {
		t.Fatalf("%d goroutines started for %d pages of 50 products: more than 10 per page", n, requests)
	}
}

// TestResponseBytesAsJSONMarshal: the POST transport writes the executor's data as it is; the bytes
// are what json.Marshal of the response gives (gqlgen's transport), HTML characters escaped included.
func TestResponseBytesAsJSONMarshal(t *testing.T) {
	t.Parallel()
	env, tok := leanEnv(t)
	out := serve(t, env.App.Handler, tok, `{ products(first: 2) { edges { node { sku name } } } }`)
	want := `{"data":{"products":{"edges":[{"node":{"sku":"SKU-000","name":"Product \u003c0\u003e"}},{"node":{"sku":"SKU-001","name":"Product \u003c1\u003e"}}]}}}`
	if string(out) != want {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
	out = serve(t, env.App.Handler, tok, `{ products(first: 1) { edges { node { sku } } } }`)
	if want := `{"data":{"products":{"edges":[{"node":{"sku":"SKU-000"}}]}}}`; string(out) != want {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
}

// TestAllocationsPerRequest bounds the allocations of a request through the whole handler (the
// test's own request and recorder included), a few percent above what was measured when lean
// execution landed ({__typename} 126, was 162; a 50-product page 9244, was 9886; 6190 since plain
// leaf fields marshal without graphql.ResolveField, 4879 since objects build no path for @defer and plain object fields call no middleware), so
// that a per-field or per-request cost creeping back in (a FieldInterceptor: +500 on the page; a
// goroutine per element: +100; ResolveField on the page's leaves again: +3,000) fails here.
func TestAllocationsPerRequest(t *testing.T) {
	// Not parallel: AllocsPerRun counts the whole process's allocations.
	env, tok := leanEnv(t)
	org := env.CreateOrganization("Lean Org")
	for i := range 25 {
		env.CreateContact(fmt.Sprintf("First%d", i), fmt.Sprintf("Schmidt%d", i), &org.ID)
	}
	for _, c := range []struct {
		name, query string
		max         float64
	}{
		{"typename", `{ __typename }`, 133},
		{"catalog50", catalogPage, 5050},
		// A 20-row contact search: 2,709 before the plain fields' direct marshalling, 1,680 after.
		{"search20", `{ contacts(search: "schm", first: 20) { edges { node { id firstName lastName email } } } }`, 1740},
	} {
		serve(t, env.App.Handler, tok, c.query)
		n := testing.AllocsPerRun(20, func() { serve(t, env.App.Handler, tok, c.query) })
		t.Logf("%s: %.0f allocations per request", c.name, n)
		if n > c.max {
			t.Errorf("%s: %.0f allocations per request, more than %.0f", c.name, n, c.max)
		}
	}
}

// TestIntrospectionRefusedWithItsCode: the field hook that now runs only on fields that can fail
// still refuses introspection in production with FORBIDDEN (TestInternalErrorsDoNotLeak covers its
// other task, hiding internal errors).
func TestIntrospectionRefusedWithItsCode(t *testing.T) {
	t.Parallel()
	prod := apptest.New(t, dbtest.SQLite(t), func(c *config.Config) { c.Env = "production" })
	_, tok := prod.UserWithToken("lean.admin", security.RoleAdministrator)
	for _, q := range []string{`{ __schema { queryType { name } } }`, `{ __type(name: "Query") { name } }`} {
		r := prod.Do(tok, q, nil)
		if r.Code() != "FORBIDDEN" || !strings.Contains(r.Raw, "introspection is disabled") {
			t.Errorf("%s in production: %s", q, r.Raw)
		}
	}
}

// TestListsMarshalConcurrentlyOnlyWhenTheSelectionWaits: contacts have resolvers (organization,
// accounts), so gqlgen marshals them a goroutine each; when the selection reaches none of them, the
// list is marshalled in place (marshalSliceBySelection), and when it does, the edges still load.
func TestListsMarshalConcurrentlyOnlyWhenTheSelectionWaits(t *testing.T) {
	// Not parallel: the goroutine count covers the whole process.
	env, tok := leanEnv(t)
	org := env.CreateOrganization("Lean Org")
	for i := range 30 {
		env.CreateContact(fmt.Sprintf("Lena%d", i), "Lean", &org.ID)
	}
	plain := `{ contacts(first: 30) { edges { node { id firstName lastName email } } } }`
	serve(t, env.App.Handler, tok, plain)
	before := goroutinesCreated(t)
	for range 5 {
		if out := serve(t, env.App.Handler, tok, plain); bytes.Count(out, []byte(`"firstName"`)) != 30 {
			t.Fatalf("30 contacts expected: %s", out)
		}
	}
	n := goroutinesCreated(t) - before
	t.Logf("%d goroutines started for 5 pages of 30 contacts without resolvers", n)
	if n > 50 {
		t.Fatalf("%d goroutines started for 5 pages of 30 contacts without resolvers: more than 10 per page", n)
	}
	withOrg := serve(t, env.App.Handler, tok, `{ contacts(first: 30) { edges { node { firstName organization { name } } } } }`)
	if c := bytes.Count(withOrg, []byte(`"name":"Lean Org"`)); c != 30 {
		t.Fatalf("%d of 30 contacts with their organization: %s", c, withOrg)
	}
}

package graph_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"behalf/config"
	"behalf/graph"
	"behalf/graph/querylimit"
	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/store"
)

// abusiveDocument is one request an attacker might send, and the code it must be refused with.
type abusiveDocument struct {
	name   string
	body   []byte
	status int
	code   string
}

func gqlBody(query string) []byte {
	b, err := json.Marshal(map[string]any{"query": query})
	if err != nil {
		panic(err)
	}
	return b
}

// sameNameFields is n fields of one name with different arguments: gqlparser's overlapping-fields
// rule compares every pair.
func sameNameFields(n int) string {
	var sb strings.Builder
	sb.WriteString("{")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, ` contacts(search:"x%d"){totalCount}`, i)
	}
	sb.WriteString(" }")
	return sb.String()
}

func abusiveDocuments() []abusiveDocument {
	var bomb strings.Builder
	bomb.WriteString("query { ...F0 }\n")
	for i := 0; i < 29; i++ {
		fmt.Fprintf(&bomb, "fragment F%d on Query { ...F%d ...F%d }\n", i, i+1, i+1)
	}
	bomb.WriteString("fragment F29 on Query { me { id login email } }\n")
	deep := strings.Repeat("{me", 80000) + strings.Repeat("}", 80000)
	var aliases strings.Builder
	aliases.WriteString("{")
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&aliases, " a%d:__typename", i)
	}
	aliases.WriteString(" }")
	pad := func(n int) []byte {
		return []byte(`{"query":"{ __typename }","variables":{"pad":"` + strings.Repeat("x", n) + `"}}`)
	}
	return []abusiveDocument{
		{"700 same-name fields", gqlBody(sameNameFields(700)), 400, "QUERY_TOO_WIDE"},
		{"5000 same-name fields", gqlBody(sameNameFields(5000)), 400, "QUERY_TOO_WIDE"},
		{"30-level fragment bomb", gqlBody(bomb.String()), 400, "QUERY_TOO_WIDE"},
		{"80000-level depth bomb", gqlBody(deep), 400, "QUERY_TOO_DEEP"},
		{"10000 aliases", gqlBody(aliases.String()), 400, "QUERY_TOO_WIDE"},
		{"2 MB body", pad(2 << 20), 413, "QUERY_TOO_LARGE"},
		{"20 MB body", pad(20 << 20), 413, "QUERY_TOO_LARGE"},
	}
}

func serveDoc(h http.Handler, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/graphql-response+json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestAbusiveDocumentsAreRefusedCheaply sends each abusive document through the served handler: each
// is refused with its code, no statement reaches the database (so no resolver ran), and one refusal
// allocates under 10 MB (the time is logged; BenchmarkRefusals reports both). Not parallel, so that the allocation figures are this test's own.
func TestAbusiveDocumentsAreRefusedCheaply(t *testing.T) {
	t.Parallel()
	db := dbtest.SQLite(t)
	env := apptest.New(t, db)
	stmts, err := store.CountStatements(db)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range abusiveDocuments() {
		t.Run(d.name, func(t *testing.T) {
			before := stmts.Total()
			w := serveDoc(env.App.Handler, d.body)
			res := apptest.ParseRecorder(t, w)
			if w.Code != d.status || res.Code() != d.code {
				t.Fatalf("status %d code %q, want %d %s: %.300s", w.Code, res.Code(), d.status, d.code, res.Raw)
			}
			if n := stmts.Total() - before; n != 0 {
				t.Fatalf("%d statements ran for a refused document", n)
			}
			const runs = 5
			var m0, m1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m0)
			start := time.Now()
			for i := 0; i < runs; i++ {
				if w := serveDoc(env.App.Handler, d.body); w.Code != d.status {
					t.Fatalf("status %d", w.Code)
				}
			}
			elapsed := time.Since(start) / runs
			runtime.ReadMemStats(&m1)
			perOp := (m1.TotalAlloc - m0.TotalAlloc) / runs
			t.Logf("%s (%d bytes): %v/op, %d B/op, %d allocs/op", d.name, len(d.body), elapsed, perOp, (m1.Mallocs-m0.Mallocs)/runs)
			if perOp > 10<<20 {
				t.Fatalf("refusal allocates %d bytes", perOp)
			}
		})
	}
}

// BenchmarkRefusals reports the handler time and allocations of refusing each abusive document.
func BenchmarkRefusals(b *testing.B) {
	env := apptest.New(b, dbtest.SQLite(b))
	for _, d := range abusiveDocuments() {
		b.Run(strings.ReplaceAll(d.name, " ", "_"), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if w := serveDoc(env.App.Handler, d.body); w.Code != d.status {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}

func TestQueryLimitsAcceptOrdinaryDocuments(t *testing.T) {
	t.Parallel()
	l := graph.LimitsFrom(config.Defaults())
	for _, q := range []string{
		`{ __typename }`,
		`query Q($s: String) { contacts(search: $s, first: 10) { edges { node { id fullName organization { name } accounts { login } } } } }`,
		`# comment { { { {
		 query { me { ...U } } fragment U on User { id login roles @include(if: true) }`,
		`mutation { createProduct(input: {sku: "A-1", name: "x", description: """a { [ ( block "" \""" string""", price: "1.00", currency: "EUR", stock: 1}) { id } }`,
		introspectionQuery,
	} {
		if err := l.Check(q); err != nil {
			t.Errorf("%.60s: refused: %v", q, err)
		}
	}
}

func TestQueryLimitsRefuseEachKind(t *testing.T) {
	t.Parallel()
	l := querylimit.Limits{MaxTokens: 200, MaxDepth: 3, MaxWidth: 3, MaxFields: 8, MaxFragments: 2, MaxDirectives: 2}
	for q, code := range map[string]string{
		`{ a { b { c { d } } } }`: "QUERY_TOO_DEEP",
		`{ ...A } fragment A on Q { a { ...B } } fragment B on Q { b { c { d } } }`: "QUERY_TOO_DEEP",
		`{ a b c d }`:                                 "QUERY_TOO_WIDE",
		`{ a: x b: x c: x d: x }`:                     "QUERY_TOO_WIDE",
		`{ a { b c } d { e f } g { h i } }`:           "QUERY_TOO_WIDE",
		`{ ...A ...A } fragment A on Q { a b c d e }`: "QUERY_TOO_WIDE",
		`{ a } fragment A on Q { a } fragment B on Q { a } fragment C on Q { a }`: "QUERY_TOO_WIDE",
		`{ a @x b @x c @x }`: "QUERY_TOO_WIDE",
		`{ a(x: [[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]) }`: "QUERY_TOO_DEEP",
		"{ a(x: [" + strings.Repeat("1 ", 300) + "]) }":              "QUERY_TOO_LARGE",
	} {
		err := l.Check(q)
		if err == nil || err.Extensions["code"] != code {
			t.Errorf("%s: got %v, want %s", q, err, code)
		}
	}
	// A cycle is left to the validator, without looping here.
	if err := l.Check(`{ ...A } fragment A on Q { a { ...B } } fragment B on Q { ...A }`); err != nil {
		t.Errorf("cycle: %v", err)
	}
}

const introspectionQuery = `query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }
}`

package querylimit

import (
	"bytes"
	"encoding/json"
	"testing"
)

var fuzzLimits = Limits{MaxTokens: 10000, MaxDepth: 15, MaxWidth: 100, MaxFields: 1000, MaxFragments: 50, MaxDirectives: 50}

// FuzzJSONQuery checks the body pre-scan against encoding/json: where the body is valid JSON with one
// "query" string, both read the same query; and scanning and checking it never panics.
func FuzzJSONQuery(f *testing.F) {
	for _, s := range []string{
		`{"query":"{ __typename }"}`,
		`{"operationName":null,"variables":{"a":[1,2,{"b":"}"}]},"query":"query Q { me { id } }"}`,
		`{"query":"{ a(x: \"\\u00e9\\ud83d\\ude00\") }","extensions":{}}`,
		`[{"query":"{a}"}]`, `{"query":`, `{"query":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		q, ok := JSONQuery(body)
		if !ok {
			return
		}
		_ = Scan(fuzzLimits, q)
		_ = fuzzLimits.Check(string(q))
		var m map[string]any
		if !json.Valid(body) || bytes.Count(body, []byte(`"query"`)) != 1 || json.Unmarshal(body, &m) != nil {
			return
		}
		if s, isString := m["query"].(string); isString && s != string(q) {
			t.Fatalf("JSONQuery read %q, encoding/json %q", q, s)
		}
	})
}

// FuzzCheck runs the scan and the AST pre-pass on arbitrary documents: they never panic or loop.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		`{ __typename }`, `query { ...F } fragment F on Query { ...F }`, `{ a(x: """b""" y: [1 {c: $d}]) @skip(if: true) { ... on T { e } } }`,
		`{"""`, `{ a { b { c { d { e { f { g { h { i { j { k { l { m { n { o { p } } } } } } } } } } } } } } } }`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		_ = Scan(fuzzLimits, q)
		_ = fuzzLimits.Check(q)
	})
}

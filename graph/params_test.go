package graph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

// referenceDecode is how transport.POST decodes a body.
func referenceDecode(body []byte) (graphql.RawParams, error) {
	var p graphql.RawParams
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	err := dec.Decode(&p)
	return p, err
}

func checkDecodeParams(t *testing.T, body []byte) {
	want, wantErr := referenceDecode(body)
	var got graphql.RawParams
	err := decodeParams(body, &got)
	if fmt.Sprint(err) != fmt.Sprint(wantErr) {
		t.Fatalf("%q: error %v, want %v", body, err, wantErr)
	}
	if wantErr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: got %#v, want %#v", body, got, want)
	}
}

// TestDecodeParamsAsDecoder: the fast path gives what json.Decoder with UseNumber gives, and bodies
// of another shape get its very results and errors.
func TestDecodeParamsAsDecoder(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		`{"query":"{ __typename }"}`,
		` { "query" : "query q($a: Int) { x }" , "operationName":"q", "variables": {"a": 1.50, "b": [1, {"c": "}"}], "d": null}, "extensions": {"persistedQuery": {"version": 1}} } `,
		`{"query":"a\"b\\c\u00e9\n"}`,
		"{\"query\":\"caf\xe9\"}",
		`{"query":null,"operationName":null,"variables":null,"extensions":null}`,
		`{}`,
		`{"Query":"x"}`,
		`{"query":"a","query":"b"}`,
		`{"variables":{"a":1},"variables":{"b":2}}`,
		`{"query":1}`,
		`{"variables":"x"}`,
		`{"variables":[1]}`,
		`{"other":1,"query":"x"}`,
		`[{"query":"x"}]`,
		`{"query":"x"} trailing`,
		`{"query":"x"`,
		``,
		`null`,
		`"x"`,
		`{"query":"x","variables":{"n":12345678901234567890}}`,
	} {
		checkDecodeParams(t, []byte(body))
	}
}

func FuzzDecodeParams(f *testing.F) {
	f.Add([]byte(`{"query":"{ a }","variables":{"x":[1,"]"]},"operationName":null}`))
	f.Add([]byte(`{"query":"\u0000\\"}`))
	f.Fuzz(func(t *testing.T, body []byte) { checkDecodeParams(t, body) })
}

package graph_test

import (
	"net/http"
	"strings"
	"testing"

	"behalf/config"
	"behalf/internal/apptest"
	"behalf/internal/dbtest"
)

// TestTransportRefusalsCarryACode checks that every refusal before GraphQL execution says what is
// wrong with extensions.code and a hint.
func TestTransportRefusalsCarryACode(t *testing.T) {
	t.Parallel()
	env := apptest.New(t, dbtest.SQLite(t))
	for _, tc := range []struct {
		name   string
		req    apptest.Request
		status int
		code   string
	}{
		{"text/plain", apptest.Request{Path: "/graphql", Body: strings.NewReader(`{"query":"{__typename}"}`), Headers: map[string]string{"Content-Type": "text/plain"}}, 415, "BAD_REQUEST"},
		{"PUT", apptest.Request{Method: http.MethodPut, Path: "/graphql", Body: strings.NewReader(`{}`), Headers: map[string]string{"Content-Type": "application/json"}}, 405, "BAD_REQUEST"},
		{"mutation over GET", apptest.Request{Method: http.MethodGet, Path: "/graphql?query=mutation%7Blogout%7D"}, 405, "BAD_REQUEST"},
		{"not JSON", apptest.Request{Path: "/graphql", Body: strings.NewReader(`{"query":`), Headers: map[string]string{"Content-Type": "application/json"}}, 400, "BAD_REQUEST"},
		{"batch", apptest.Request{Path: "/graphql", Body: strings.NewReader(`[{"query":"{__typename}"}]`), Headers: map[string]string{"Content-Type": "application/json"}}, 400, "BAD_REQUEST"},
		{"credential in query string, any case", apptest.Request{Method: http.MethodGet, Path: "/graphql?query=%7B__typename%7D&Access_Token=x"}, 400, "BAD_USER_INPUT"},
	} {
		w := env.HTTP(tc.req)
		res := apptest.ParseRecorder(t, w)
		if w.Code != tc.status || res.Code() != tc.code {
			t.Errorf("%s: %d %s", tc.name, w.Code, res.Raw)
			continue
		}
		if tc.code == "BAD_REQUEST" && res.Errors[0].Extensions["hint"] == nil {
			t.Errorf("%s: no hint: %s", tc.name, res.Raw)
		}
	}
}

// TestProductionHidesTheSchema checks that production mode refuses introspection as a client error
// (FORBIDDEN, not logged as an error) and suggests no field names.
func TestProductionHidesTheSchema(t *testing.T) {
	t.Parallel()
	env := apptest.New(t, dbtest.SQLite(t), func(c *config.Config) { c.Env = "production" })
	res := env.Do("", `{ __schema { queryType { name } } }`, nil)
	if res.Code() != "FORBIDDEN" {
		t.Fatalf("introspection: %s", res.Raw)
	}
	res = env.Do("", `{ mee { id } }`, nil)
	if res.Code() != "GRAPHQL_VALIDATION_FAILED" || strings.Contains(res.Raw, "Did you mean") {
		t.Fatalf("suggestion: %s", res.Raw)
	}
	if strings.Contains(env.Logs.String(), `"level":"error"`) {
		t.Fatalf("logged at error level: %s", env.Logs.String())
	}
	dev := apptest.New(t, dbtest.SQLite(t))
	if res := dev.Do("", `{ mee { id } }`, nil); !strings.Contains(res.Raw, "Did you mean") {
		t.Fatalf("development mode lost its suggestions: %s", res.Raw)
	}
}

package graph

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestSchemaDownload: GET /graphql/schema.graphql serves the SDL with descriptions; it needs no
// credentials and does not depend on introspection (production turns that off, not this).
func TestSchemaDownload(t *testing.T) {
	mux := http.NewServeMux()
	mountWeb(mux)
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/graphql/schema.graphql", nil))
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("status %d, type %q", w.Code, w.Header().Get("Content-Type"))
	}
	body := w.Body.String()
	for _, want := range []string{"type Query {", "type Mutation {", "loginOnBehalf(userId: ID!, reason: String): OnBehalfTicket!",
		"scalar Upload", "directive @denyOnBehalf", "Decimal string"} {
		if !strings.Contains(body, want) {
			t.Errorf("SDL lacks %q", want)
		}
	}
	if body != SDL() {
		t.Error("served SDL differs from SDL()")
	}
	w = httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/graphql/schema.graphql", nil))
	if w.Code == 200 {
		t.Error("POST /graphql/schema.graphql answered 200")
	}
}

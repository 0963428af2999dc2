package graph

import (
	"bytes"
	"net/http"
	"sync"

	"behalf/graph/generated"

	"github.com/vektah/gqlparser/v2/formatter"
)

// SDL is the whole GraphQL schema in the schema definition language, with descriptions, as frontend
// code generators (graphql-codegen, gqlgen clients) read it. `behalf schema` prints it and
// GET /graphql/schema.graphql serves it, also in production where introspection is off: the schema
// is public documentation, what introspection exposes is the same text at runtime.
var SDL = sync.OnceValue(func() string {
	var b bytes.Buffer
	formatter.NewFormatter(&b, formatter.WithIndent("  ")).FormatSchema(generated.NewExecutableSchema(generated.Config{}).Schema())
	return b.String()
})

// serveSDL answers GET /graphql/schema.graphql.
func serveSDL(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", `inline; filename="schema.graphql"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write([]byte(SDL()))
}

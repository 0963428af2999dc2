package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"behalf/apperr"

	"github.com/99designs/gqlgen/graphql"
)

// transportHint is what a client refused at the transport level should do instead.
const transportHint = "use POST with Content-Type: application/json (GET for queries only)"

// unsupportedTransport is registered last: it answers every request no real transport took (wrong
// method or content type) with 415/405 and a coded error, where gqlgen would answer a bare
// "transport not supported".
type unsupportedTransport struct{}

var _ graphql.Transport = unsupportedTransport{}

func (unsupportedTransport) Supports(*http.Request) bool { return true }

func (unsupportedTransport) Do(w http.ResponseWriter, r *http.Request, _ graphql.GraphExecutor) {
	status := http.StatusUnsupportedMediaType
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		status = http.StatusMethodNotAllowed
		w.Header().Set("Allow", "GET, POST, OPTIONS")
	}
	writeCoded(w, status, "transport not supported: "+transportHint)
}

func writeCoded(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []any{map[string]any{"message": msg, "extensions": map[string]any{"code": string(apperr.BadRequest), "hint": transportHint}}},
		"data":   nil,
	})
}

// codedTransportErrors gives a code to the errors gqlgen's transports write themselves (a mutation
// over GET, a body that is not JSON, a batch): a refusal with status 400 or more whose errors carry no
// extensions.code gets BAD_REQUEST and the hint. Bodies of such refusals are small; others pass
// through untouched.
func codedTransportErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var cw *codeWriter
		if st := stateFrom(r.Context()); st != nil {
			st.cw = codeWriter{ResponseWriter: w}
			cw = &st.cw
		} else {
			cw = &codeWriter{ResponseWriter: w}
		}
		next.ServeHTTP(cw, r)
		if cw.buf == nil {
			return
		}
		if r.Method == http.MethodGet && cw.status == http.StatusNotAcceptable {
			cw.status = http.StatusMethodNotAllowed // a mutation over GET (GraphQL over HTTP: 405)
			w.Header().Set("Allow", "POST")
		}
		out := cw.buf.Bytes()
		var top map[string]json.RawMessage
		var errs []map[string]any
		if json.Unmarshal(out, &top) == nil && json.Unmarshal(top["errors"], &errs) == nil && len(errs) > 0 {
			changed := false
			for _, e := range errs {
				ext, _ := e["extensions"].(map[string]any)
				if ext == nil {
					ext = map[string]any{}
				}
				if _, ok := ext["code"]; !ok {
					ext["code"], ext["hint"] = string(apperr.BadRequest), transportHint
					e["extensions"] = ext
					changed = true
				}
			}
			ct := w.Header().Get("Content-Type")
			if string(top["data"]) == "null" && strings.HasPrefix(ct, "application/graphql-response+json") {
				// A request error: nothing executed, so there is no data entry (GraphQL over HTTP).
				delete(top, "data")
				changed = true
			}
			if cw.status == http.StatusUnprocessableEntity && strings.HasPrefix(ct, "application/json") {
				// gqlgen answers a document that does not parse or validate with 422; for
				// application/json GraphQL over HTTP asks for 200 (legacy clients read the body), and
				// for invalid parameters (no query) 400.
				cw.status = http.StatusOK
				if ext, _ := errs[0]["extensions"].(map[string]any); ext["code"] == string(apperr.BadRequest) {
					cw.status = http.StatusBadRequest
				}
			}
			if changed {
				if b, err := json.Marshal(errs); err == nil {
					top["errors"] = b
					if b, err := json.Marshal(top); err == nil {
						out = b
					}
				}
			}
		}
		w.WriteHeader(cw.status)
		_, _ = w.Write(out)
	})
}

type codeWriter struct {
	http.ResponseWriter
	status int
	buf    *bytes.Buffer
	wrote  bool
}

func (w *codeWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	if code >= 400 && code != http.StatusTooManyRequests && code < 500 {
		w.status, w.buf = code, &bytes.Buffer{}
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *codeWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.buf != nil {
		return w.buf.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

func (w *codeWriter) Flush() {
	if w.buf != nil {
		return
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// ErrIntrospectionDisabled refuses __schema and __type in production: a client error (FORBIDDEN),
// not an internal one, and not logged at error level. The SDL stays at /graphql/schema.graphql.
var ErrIntrospectionDisabled = apperr.New(apperr.Forbidden, "introspection is disabled")

func refuseIntrospection(ctx context.Context) error {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil || (fc.Field.Name != "__schema" && fc.Field.Name != "__type") {
		return nil
	}
	if oc := graphql.GetOperationContext(ctx); oc != nil && oc.DisableIntrospection {
		return ErrIntrospectionDisabled
	}
	return nil
}

package graph

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestLimitMultipart: oversized multipart bodies are refused with a code, whether or not their length
// is declared; what passes reaches the next handler intact.
func TestLimitMultipart(t *testing.T) {
	t.Parallel()
	var got string
	h := limitMultipart(100, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = string(b)
	}))
	for _, tt := range []struct {
		name, ctype, body string
		unknownLength     bool
		status            int
	}{
		{"small", "multipart/form-data; boundary=x", strings.Repeat("a", 100), false, 200},
		{"small, unknown length", "multipart/form-data; boundary=x", strings.Repeat("a", 100), true, 200},
		{"large", "multipart/form-data; boundary=x", strings.Repeat("a", 101), false, 413},
		{"large, unknown length", "multipart/form-data; boundary=x", strings.Repeat("a", 101), true, 413},
		{"json is not limited here", "application/json", strings.Repeat("a", 500), false, 200},
	} {
		got = ""
		r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(tt.body))
		r.Header.Set("Content-Type", tt.ctype)
		if tt.unknownLength {
			r.ContentLength = -1
			r.Body = io.NopCloser(strings.NewReader(tt.body))
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tt.status {
			t.Errorf("%s: status %d, want %d", tt.name, w.Code, tt.status)
		}
		if tt.status == 413 && !strings.Contains(w.Body.String(), `"code":"BAD_USER_INPUT"`) {
			t.Errorf("%s: body %s", tt.name, w.Body.String())
		}
		if tt.status == 200 && got != tt.body {
			t.Errorf("%s: next handler read %d bytes, want %d", tt.name, len(got), len(tt.body))
		}
	}
}

package security_test

import (
	"strings"
	"testing"

	"behalf/security"
)

// FuzzParseBearer: an accepted token is non-empty, has no blanks or control characters, and is a
// substring of the header.
func FuzzParseBearer(f *testing.F) {
	for _, s := range []string{"Bearer bhs_abc", "bearer  bhk_x ", "Basic dXNlcjpwYXNz", "Bearer", "Bearer a b", "Bearer \x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, ok := security.ParseBearer(h)
		if !ok {
			return
		}
		if tok == "" || strings.ContainsAny(tok, " \t\r\n\x00") || !strings.Contains(h, tok) {
			t.Fatalf("ParseBearer(%q) = %q", h, tok)
		}
	})
}

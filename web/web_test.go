package web

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHandler: pages and assets carry the strict headers, client-side routes get the app's page,
// missing assets are 404 and the apps are GET-only.
func TestHandler(t *testing.T) {
	h := Handler()
	for _, c := range []struct {
		method, path string
		status       int
		contentType  string
		body         string
	}{
		{"GET", "/console/", 200, "text/html", "/console/app.js"},
		{"GET", "/console/app.js", 200, "text/javascript", "loginOnBehalf"},
		{"GET", "/console/shared/gql.js", 200, "text/javascript", "export async function gql"},
		{"GET", "/storefront/", 200, "text/html", "/storefront/app.js"},
		{"GET", "/storefront/account/impersonate/0192-abc", 200, "text/html", "/storefront/app.js"},
		{"GET", "/storefront/shared/base.css", 200, "text/css", ":focus-visible"},
		{"GET", "/storefront/nothing.js", 404, "", ""},
		{"GET", "/storefront/../web.go", 404, "", ""},
		{"GET", "/console", 301, "", ""},
		{"POST", "/storefront/", 405, "", ""},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(c.method, c.path, nil))
		if w.Code != c.status {
			t.Errorf("%s %s: status %d, want %d", c.method, c.path, w.Code, c.status)
			continue
		}
		if c.status != 200 {
			continue
		}
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, c.contentType) {
			t.Errorf("%s: content type %q", c.path, ct)
		}
		if !strings.Contains(w.Body.String(), c.body) {
			t.Errorf("%s: body lacks %q", c.path, c.body)
		}
		hd := w.Header()
		csp := hd.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-") || !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s: CSP %q", c.path, csp)
		}
		if hd.Get("Referrer-Policy") != "no-referrer" || hd.Get("X-Content-Type-Options") != "nosniff" || hd.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", c.path, hd)
		}
	}
}

// TestNoInlineScript: the CSP forbids inline script, so no page may rely on it.
func TestNoInlineScript(t *testing.T) {
	for _, p := range []string{"console/index.html", "storefront/index.html"} {
		b, err := assets.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		for _, bad := range []string{"<script>", " onclick=", " onload=", "javascript:", "<style"} {
			if strings.Contains(s, bad) {
				t.Errorf("%s contains %q", p, bad)
			}
		}
		if strings.Count(s, "<script") != strings.Count(s, `<script type="module" src=`) {
			t.Errorf("%s: every script must be an external module", p)
		}
	}
	for _, p := range []string{"console/app.js", "storefront/app.js", "shared/ui.js"} {
		b, err := assets.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"innerHTML", "eval(", "new Function", "javascript:", "localStorage"} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s contains %q", p, bad)
			}
		}
	}
}

package graphiql

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"regexp"
	"strings"
	"testing"
)

// newServer mounts the handler the way the GraphQL server does.
func newServer(t *testing.T, title, endpoint string) *httptest.Server {
	t.Helper()
	h := Handler(title, endpoint)
	mux := http.NewServeMux()
	mux.Handle("/graphiql", h)
	mux.Handle("/graphiql/", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, rawURL string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

var (
	refRE    = regexp.MustCompile(`(?i)<(script|link)\b[^>]*?\b(?:src|href)="([^"]*)"`)
	scriptRE = regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`)
)

// pageRefs returns the src/href of every <script> and <link> in page.
func pageRefs(page string) []string {
	var refs []string
	for _, m := range refRE.FindAllStringSubmatch(page, -1) {
		refs = append(refs, m[2])
	}
	return refs
}

func TestPageServedAtMountPoint(t *testing.T) {
	srv := newServer(t, "Behalf API", "/graphql")
	for _, p := range []string{"/graphiql", "/graphiql/"} {
		t.Run(p, func(t *testing.T) {
			resp, body := get(t, srv.URL+p, nil)
			page := string(body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200", resp.StatusCode)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			if !strings.Contains(page, "<title>Behalf API</title>") {
				t.Errorf("page lacks the title")
			}
			if !strings.Contains(page, `data-endpoint="/graphql"`) {
				t.Errorf("page lacks the endpoint")
			}

			// No CDN: nothing in the page points off-site.
			for _, bad := range []string{"http://", "https://", `src="//`, `href="//`} {
				if strings.Contains(page, bad) {
					t.Errorf("page contains %q", bad)
				}
			}
			refs := pageRefs(page)
			if len(refs) < 4 {
				t.Fatalf("found only %d script/link references: %q", len(refs), refs)
			}
			for _, ref := range refs {
				if !strings.HasPrefix(ref, assetsPrefix) {
					t.Errorf("reference %q is not below %s", ref, assetsPrefix)
				}
			}

			// No inline script, so CSP needs no 'unsafe-inline' for scripts.
			for _, m := range scriptRE.FindAllStringSubmatch(page, -1) {
				if !strings.Contains(m[1], "src=") || strings.TrimSpace(m[2]) != "" {
					t.Errorf("inline script in page: %q", m[0])
				}
			}

			csp := resp.Header.Get("Content-Security-Policy")
			directives := map[string]string{}
			for _, d := range strings.Split(csp, ";") {
				name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
				directives[name] = value
			}
			want := map[string]string{
				"default-src":     "'none'",
				"script-src":      "'self'",
				"style-src":       "'self' 'unsafe-inline'",
				"connect-src":     "'self'",
				"frame-ancestors": "'none'",
			}
			for name, value := range want {
				if directives[name] != value {
					t.Errorf("CSP %s = %q, want %q (CSP: %s)", name, directives[name], value, csp)
				}
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("missing X-Content-Type-Options: nosniff")
			}
		})
	}
}

func TestAssetsReferencedFromPageAreServed(t *testing.T) {
	srv := newServer(t, "", "")
	base, err := url.Parse(srv.URL + "/graphiql")
	if err != nil {
		t.Fatal(err)
	}
	_, body := get(t, base.String(), nil)
	wantType := map[string]string{
		".js":  "text/javascript; charset=utf-8",
		".css": "text/css; charset=utf-8",
	}
	for _, ref := range pageRefs(string(body)) {
		u, err := base.Parse(ref)
		if err != nil {
			t.Fatalf("bad reference %q: %v", ref, err)
		}
		resp, data := get(t, u.String(), nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status = %d, want 200", ref, resp.StatusCode)
			continue
		}
		if len(data) == 0 {
			t.Errorf("%s: empty body", ref)
		}
		if got, want := resp.Header.Get("Content-Type"), wantType[path.Ext(u.Path)]; got != want {
			t.Errorf("%s: Content-Type = %q, want %q", ref, got, want)
		}
		if got := resp.Header.Get("Cache-Control"); got != cacheImmutable {
			t.Errorf("%s: Cache-Control = %q, want %q", ref, got, cacheImmutable)
		}
		if resp.Header.Get("ETag") == "" {
			t.Errorf("%s: no ETag", ref)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: missing X-Content-Type-Options: nosniff", ref)
		}
	}
}

func TestPageUsesEveryRequiredAsset(t *testing.T) {
	srv := newServer(t, "", "")
	_, body := get(t, srv.URL+"/graphiql/", nil)
	page := string(body)
	// Order matters: React and ReactDOM must load before GraphiQL, and
	// init.js last.
	last := -1
	for _, name := range []string{"react.production.min.js", "react-dom.production.min.js", "graphiql.min.js", "init.js"} {
		i := strings.Index(page, assetsPrefix+name+"?v=")
		if i < 0 {
			t.Fatalf("page does not load %s", name)
		}
		if i < last {
			t.Errorf("%s is loaded out of order", name)
		}
		last = i
	}
	if !strings.Contains(page, assetsPrefix+"graphiql.min.css?v=") {
		t.Errorf("page does not load graphiql.min.css")
	}
}

func TestInitScript(t *testing.T) {
	data, err := assetsFS.ReadFile("assets/init.js")
	if err != nil {
		t.Fatal(err)
	}
	js := string(data)
	for _, want := range []string{
		"headers['Content-Type'] = 'application/json'", // the fetcher posts JSON
		"method: 'POST'",
		"opts.headers",                 // headers typed into the Headers editor
		"isHeadersEditorEnabled: true", // the Headers editor is on
		"shouldPersistHeaders: true",
		"Authorization",
		"data-endpoint",
	} {
		if !strings.Contains(js, want) {
			t.Errorf("init.js lacks %q", want)
		}
	}
	for _, name := range []string{"assets/init.js", "assets/page.css"} {
		data, err := assetsFS.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte("http://")) || bytes.Contains(data, []byte("https://")) {
			t.Errorf("%s refers to an absolute URL", name)
		}
	}
}

func TestNotFound(t *testing.T) {
	srv := newServer(t, "", "")
	for _, p := range []string{
		"/graphiql/assets/nope.js",
		"/graphiql/assets/",
		"/graphiql/assets",
		"/graphiql/index.html",
		"/graphiql/assets/licenses",
		"/graphiql/assets/../graphiql.go",
		"/graphiql/graphiql.min.js",
	} {
		resp, _ := get(t, srv.URL+p, nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status = %d, want 404", p, resp.StatusCode)
		}
	}
}

func TestMethodNotAllowed(t *testing.T) {
	h := Handler("", "")
	for _, p := range []string{"/graphiql", "/graphiql/assets/init.js"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, p, strings.NewReader("{}")))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: status = %d, want 405", p, rec.Code)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/graphiql/", nil))
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("HEAD /graphiql/: status = %d, body %d bytes", rec.Code, rec.Body.Len())
	}
}

func TestAssetCaching(t *testing.T) {
	h := Handler("", "")
	a := loadAssets()["graphiql.min.js"]

	// Without the matching content hash the response must be revalidated.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, assetsPrefix+"graphiql.min.js", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != cacheRevalidate {
		t.Errorf("unversioned: status %d, Cache-Control %q", rec.Code, rec.Header().Get("Cache-Control"))
	}
	if !bytes.Equal(rec.Body.Bytes(), a.data) {
		t.Errorf("unversioned: body differs from the embedded file")
	}

	req := httptest.NewRequest(http.MethodGet, assetsPrefix+"graphiql.min.js?v="+a.version, nil)
	req.Header.Set("If-None-Match", rec.Header().Get("ETag"))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Errorf("If-None-Match: status = %d, want 304", rec.Code)
	}
}

func TestAssetGzip(t *testing.T) {
	h := Handler("", "")
	a := loadAssets()["graphiql.min.js"]
	req := httptest.NewRequest(http.MethodGet, assetsPrefix+"graphiql.min.js", nil)
	req.Header.Set("Accept-Encoding", "br, gzip")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding = %q, want gzip", rec.Header().Get("Content-Encoding"))
	}
	if !strings.Contains(rec.Header().Get("Vary"), "Accept-Encoding") {
		t.Errorf("Vary = %q", rec.Header().Get("Vary"))
	}
	if rec.Body.Len() >= len(a.data) {
		t.Errorf("gzip body is %d bytes, plain is %d", rec.Body.Len(), len(a.data))
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(plain, a.data) {
		t.Errorf("gunzipped body differs from the embedded file")
	}

	req.Header.Set("Accept-Encoding", "gzip;q=0, identity")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Header().Get("Content-Encoding") != "" || !bytes.Equal(rec.Body.Bytes(), a.data) {
		t.Errorf("gzip;q=0 was not honoured")
	}
}

func TestTitleAndEndpointAreEscaped(t *testing.T) {
	h := Handler(`<script>alert(1)</script>`, `/graphql?a="b"&c=<d>`)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/graphiql", nil))
	page := rec.Body.String()
	if strings.Contains(page, "<script>alert") || strings.Contains(page, `"b"&c=<d>`) {
		t.Errorf("title or endpoint not escaped:\n%s", page)
	}
}

func TestAbsoluteEndpointAllowedByCSP(t *testing.T) {
	h := Handler("", "https://api.example.test:8443/graphql")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/graphiql", nil))
	csp := rec.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "connect-src 'self' https://api.example.test:8443;") {
		t.Errorf("CSP does not allow the endpoint's origin: %s", csp)
	}
}

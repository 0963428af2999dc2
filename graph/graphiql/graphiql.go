// Package graphiql serves GraphiQL, the in-browser GraphQL IDE, entirely from
// files embedded in the binary: no CDN or other network access is needed
// besides the GraphQL endpoint itself.
//
// The embedded third-party files (GraphiQL, React, ReactDOM) and their exact
// versions are listed in assets/VERSIONS.txt; their licenses are in
// assets/licenses/.
//
// Usage:
//
//	h := graphiql.Handler("My API", "/graphql")
//	mux.Handle(graphiql.MountPath, h)       // "/graphiql"
//	mux.Handle(graphiql.MountPath+"/", h)   // "/graphiql/"
package graphiql

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MountPath is the URL path the handler returned by Handler expects to be
// mounted at. The page is served at MountPath and MountPath+"/", and the
// static files it needs at MountPath+"/assets/<file>".
const MountPath = "/graphiql"

// assetsPrefix is the URL path prefix of the embedded static files.
const assetsPrefix = MountPath + "/assets/"

//go:embed assets
var assetsFS embed.FS

// Cache-Control values. Asset URLs written into the page carry a content
// hash (?v=...), so such a response never changes and may be cached for a
// year; a request without the matching hash must revalidate (ETag).
const (
	cacheImmutable  = "public, max-age=31536000, immutable"
	cacheRevalidate = "no-cache"
)

// asset is one embedded static file, ready to be served.
type asset struct {
	name        string // path below assets/, e.g. "graphiql.min.js"
	data        []byte
	contentType string
	version     string // short hex SHA-256 of data; used in ?v= and the ETag

	gzipOnce sync.Once
	gz       []byte // gzip-compressed data, nil if not worth it
}

// contentTypes maps file extensions of the embedded files to the
// Content-Type they are served with. It is explicit on purpose, so the
// result does not depend on the host's MIME tables.
var contentTypes = map[string]string{
	".js":      "text/javascript; charset=utf-8",
	".css":     "text/css; charset=utf-8",
	".txt":     "text/plain; charset=utf-8",
	".LICENSE": "text/plain; charset=utf-8",
	".map":     "application/json; charset=utf-8",
}

// compressible reports whether a Content-Type is worth gzipping.
func compressible(contentType string) bool {
	return strings.HasPrefix(contentType, "text/") || strings.HasPrefix(contentType, "application/json")
}

// loadAssets reads every embedded file once; it is called on first use so
// that merely importing the package costs nothing.
var loadAssets = sync.OnceValue(func() map[string]*asset {
	m := make(map[string]*asset)
	err := fs.WalkDir(assetsFS, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := assetsFS.ReadFile(p)
		if err != nil {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			ct = "application/octet-stream"
		}
		sum := sha256.Sum256(data)
		name := strings.TrimPrefix(p, "assets/")
		m[name] = &asset{
			name:        name,
			data:        data,
			contentType: ct,
			version:     hex.EncodeToString(sum[:8]),
		}
		return nil
	})
	if err != nil {
		// The files are compiled into the binary; failing to read them is a
		// build defect, not a runtime condition.
		panic("graphiql: reading embedded assets: " + err.Error())
	}
	return m
})

// gzipped returns the gzip-compressed form of the asset, or nil when the
// asset is not compressible or compression does not make it smaller.
func (a *asset) gzipped() []byte {
	a.gzipOnce.Do(func() {
		if !compressible(a.contentType) {
			return
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if _, err := zw.Write(a.data); err != nil {
			return
		}
		if err := zw.Close(); err != nil {
			return
		}
		if buf.Len() < len(a.data) {
			a.gz = buf.Bytes()
		}
	})
	return a.gz
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip.
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for _, part := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			// "gzip;q=0" explicitly refuses gzip.
			for _, param := range strings.Split(params, ";") {
				k, val, _ := strings.Cut(strings.TrimSpace(param), "=")
				if strings.EqualFold(strings.TrimSpace(k), "q") {
					if q, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil && q == 0 {
						return false
					}
				}
			}
			return true
		}
	}
	return false
}

// pageTemplate is the GraphiQL page. It contains no inline script or style:
// everything is loaded from the embedded assets, so the page can run under a
// strict Content-Security-Policy. assets/init.js reads the endpoint from the
// data-endpoint attribute.
var pageTemplate = template.Must(template.New("graphiql").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{.Title}}</title>
<link rel="stylesheet" href="{{.Asset "graphiql.min.css"}}">
<link rel="stylesheet" href="{{.Asset "page.css"}}">
</head>
<body>
<div id="graphiql" data-endpoint="{{.Endpoint}}"><div class="graphiql-loading">Loading GraphiQL…</div></div>
<noscript>GraphiQL needs JavaScript to run.</noscript>
<script src="{{.Asset "react.production.min.js"}}"></script>
<script src="{{.Asset "react-dom.production.min.js"}}"></script>
<script src="{{.Asset "graphiql.min.js"}}"></script>
<script src="{{.Asset "init.js"}}"></script>
</body>
</html>
`))

// pageData is what pageTemplate is executed with.
type pageData struct {
	Title    string
	Endpoint string
	assets   map[string]*asset
}

// Asset returns the versioned URL of the embedded file name. An unknown name
// is an error, which can only be a mistake in pageTemplate.
func (d pageData) Asset(name string) (string, error) {
	a, ok := d.assets[name]
	if !ok {
		return "", errors.New("page references missing asset " + name)
	}
	return assetsPrefix + a.name + "?v=" + a.version, nil
}

// handler implements http.Handler; see Handler.
type handler struct {
	page []byte
	csp  string
}

// Handler returns an http.Handler serving GraphiQL with the given page title,
// sending operations to endpoint (e.g. "/graphql"; a relative path or an
// absolute http(s) URL). Empty title and endpoint default to "GraphiQL" and
// "/graphql".
//
// The handler must be mounted at MountPath: it serves the GraphiQL page for
// the paths MountPath and MountPath+"/", the embedded static files for
// MountPath+"/assets/<file>", and 404 for anything else. Only GET and HEAD
// are allowed.
//
// The page has a Content-Security-Policy allowing scripts and style sheets
// only from the same origin (no inline scripts) and network requests only
// to the same origin and the endpoint's origin. GraphiQL's query fetcher
// posts JSON (Content-Type: application/json) to endpoint and adds the
// headers typed into GraphiQL's "Headers" editor, e.g.
// {"Authorization": "Bearer <token>"}; those headers are kept in the
// browser's localStorage between visits.
func Handler(title, endpoint string) http.Handler {
	if title == "" {
		title = "GraphiQL"
	}
	if endpoint == "" {
		endpoint = "/graphql"
	}
	var buf bytes.Buffer
	err := pageTemplate.Execute(&buf, pageData{Title: title, Endpoint: endpoint, assets: loadAssets()})
	if err != nil {
		panic("graphiql: rendering page: " + err.Error())
	}
	return &handler{page: buf.Bytes(), csp: contentSecurityPolicy(endpoint)}
}

// contentSecurityPolicy builds the page's CSP. Scripts are strictly
// same-origin (the page has no inline script). style-src needs
// 'unsafe-inline': GraphiQL's dialogs (settings, short keys) inject a
// <style> element with computed content to lock scrolling, which a hash
// cannot allow (checked in headless Chromium; everything else works with
// style-src 'self'). Fonts and a few images in GraphiQL's style sheet are
// data: URLs. Network requests may go to the same origin and to the
// endpoint's origin when endpoint is an absolute URL.
func contentSecurityPolicy(endpoint string) string {
	connect := "'self'"
	if u, err := url.Parse(endpoint); err == nil && u.Host != "" && (u.Scheme == "http" || u.Scheme == "https") {
		connect += " " + u.Scheme + "://" + u.Host
	}
	return strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self' 'unsafe-inline'",
		"img-src 'self' data:",
		"font-src 'self' data:",
		"connect-src " + connect,
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; ")
}

// ServeHTTP serves the page or an embedded asset.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == MountPath || p == MountPath+"/":
		if !allowMethod(w, r) {
			return
		}
		h.servePage(w, r)
	case strings.HasPrefix(p, assetsPrefix):
		a, ok := loadAssets()[strings.TrimPrefix(p, assetsPrefix)]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if !allowMethod(w, r) {
			return
		}
		serveAsset(w, r, a)
	default:
		http.NotFound(w, r)
	}
}

// allowMethod answers 405 for anything but GET and HEAD.
func allowMethod(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
	return false
}

func (h *handler) servePage(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Content-Security-Policy", h.csp)
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(h.page)
	}
}

func serveAsset(w http.ResponseWriter, r *http.Request, a *asset) {
	hdr := w.Header()
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("X-Content-Type-Options", "nosniff")
	if r.URL.Query().Get("v") == a.version {
		hdr.Set("Cache-Control", cacheImmutable)
	} else {
		hdr.Set("Cache-Control", cacheRevalidate)
	}
	body, etag := a.data, `"`+a.version+`"`
	if compressible(a.contentType) {
		hdr.Add("Vary", "Accept-Encoding")
		if gz := a.gzipped(); gz != nil && acceptsGzip(r) {
			body, etag = gz, `"`+a.version+`-gz"`
			hdr.Set("Content-Encoding", "gzip")
		}
	}
	hdr.Set("ETag", etag)
	// ServeContent handles HEAD, Range and If-None-Match (via the ETag).
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

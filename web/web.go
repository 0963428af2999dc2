// Package web serves the two small browser apps embedded in the binary: the admin console at /console/
// and the reference storefront at /storefront/. They are plain HTML, CSS and JavaScript modules,
// committed as they are served (no build step, no CDN), and they talk to the server only through the
// public GraphQL API at /graphql, like any external frontend would.
package web

import (
	"embed"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

//go:embed console storefront shared
var assets embed.FS

// ContentSecurityPolicy allows only this origin's own scripts, styles and API: no inline script, no
// eval, no third-party origin, no framing, no <base> or form posts elsewhere.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// Handler serves /console/… and /storefront/…. A path naming an embedded file gets that file; any other
// path under an app (a client-side route such as /storefront/account/impersonate/{userId}) gets the
// app's index.html, whose scripts route on location.pathname. /console/shared/… and
// /storefront/shared/… both serve the shared modules (the GraphQL client, the stylesheet).
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		app, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		if app != "console" && app != "storefront" {
			http.NotFound(w, r)
			return
		}
		if rest == "" && !strings.HasSuffix(r.URL.Path, "/") {
			http.Redirect(w, r, "/"+app+"/", http.StatusMovedPermanently)
			return
		}
		name := path.Join(app, path.Clean("/"+rest))
		if strings.HasPrefix(rest, "shared/") {
			name = path.Clean("/" + rest)[1:]
		}
		secure(w.Header())
		if b, err := fs.ReadFile(assets, name); err == nil && !strings.HasSuffix(name, "/") && path.Ext(name) != "" {
			serve(w, r, name, b, "no-cache")
			return
		}
		if path.Ext(rest) != "" { // a missing asset, not a page
			http.NotFound(w, r)
			return
		}
		b, err := fs.ReadFile(assets, app+"/index.html")
		if err != nil {
			http.Error(w, "missing index", http.StatusInternalServerError)
			return
		}
		serve(w, r, "index.html", b, "no-store")
	})
}

// secure sets the headers every page and asset of the apps carries. no-referrer keeps the address of
// the page (and anything in it) out of other sites' logs; the ticket itself rides in the URL fragment,
// which browsers never send anyway.
func secure(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

func serve(w http.ResponseWriter, r *http.Request, name string, b []byte, cache string) {
	ct := mime.TypeByExtension(path.Ext(name))
	if path.Ext(name) == ".js" {
		ct = "text/javascript; charset=utf-8"
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", cache)
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(b)
}

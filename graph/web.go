package graph

import (
	"net/http"

	"behalf/web"
)

// mountWeb adds the schema download and the embedded browser apps (admin console, storefront).
func mountWeb(mux *http.ServeMux) {
	mux.HandleFunc("GET /graphql/schema.graphql", serveSDL)
	apps := web.Handler()
	for _, p := range []string{"/console", "/console/", "/storefront", "/storefront/"} {
		mux.Handle(p, apps)
	}
}

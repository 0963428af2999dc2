// Package graph assembles the HTTP server: the gqlgen executor with its transports and extensions, the
// directives, the error presenter, and the middleware (request id, logging, authentication, CORS).
// One file per concern: handler (routes), executor, errors, requestlog, auth, multipart, complexity.
package graph

import (
	"context"
	"net/http"
	"time"

	"behalf/audit"
	"behalf/config"
	"behalf/graph/graphiql"
	"behalf/graph/loaders"
	"behalf/metrics"
	"behalf/resolvers"
	"behalf/security"
	"behalf/servicetoken"
	"behalf/store"

	"github.com/rs/cors"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"
)

// Deps is what the server needs.
type Deps struct {
	Config   config.Config
	DB       *gorm.DB
	Log      zerolog.Logger
	Resolver *resolvers.Resolver
	Audit    *audit.Service
	Security *security.Service
	Loaders  loaders.Fetchers
	// Events announces audited changes through the outbox; nil emits nothing.
	Events Emitter
	// ServiceTokens serves POST /oauth/token and /.well-known/jwks.json.
	ServiceTokens *servicetoken.Service
	// Metrics counts requests; nil counts nothing.
	Metrics *metrics.Metrics
	// Tracer, when set, traces requests (otelhttp), operations and resolvers; nil turns tracing off.
	Tracer trace.TracerProvider
}

// NewHandler returns the whole HTTP handler: /graphql, /graphiql, /healthz, /readyz, /oauth/token and
// /.well-known/jwks.json.
func NewHandler(d Deps) http.Handler {
	exec := NewExecutor(d)
	mux := http.NewServeMux()
	gql := codedTransportErrors(withStatusHints(d.Config.RequestTimeout, limitBody(d.Config.MaxBodyBytes, LimitsFrom(d.Config), requirePreflightForMultipart(limitMultipart(multipartMax(d.Config), authenticate(d, exec))))))
	mux.Handle("/graphql", gql)
	gi := graphiql.Handler("behalf GraphiQL", "/graphql")
	mux.Handle("/graphiql", gi)
	mux.Handle("/graphiql/", gi)
	mountWeb(mux)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain")
		if err := store.Ping(ctx, d.DB); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("database unavailable\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	if d.ServiceTokens != nil {
		mux.Handle("/oauth/token", tokenExchange(d))
		mux.Handle("/.well-known/jwks.json", jwks(d))
	}
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/graphiql", http.StatusFound)
	})
	var h http.Handler = mux
	if len(d.Config.CORSOrigins) > 0 {
		h = cors.New(cors.Options{
			AllowedOrigins: d.Config.CORSOrigins,
			AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodOptions},
			AllowedHeaders: []string{"Authorization", "Content-Type", "GraphQL-Require-Preflight", "Apollo-Require-Preflight", "X-Request-Id"},
			ExposedHeaders: []string{"X-Request-Id"},
			MaxAge:         600,
		}).Handler(h)
	}
	h = clientAddress(d.Config.TrustedProxies, withRequestContext(d.Log, d.Loaders, d.Metrics, h))
	if d.Tracer != nil {
		h = otelhttp.NewHandler(h, "behalf", otelhttp.WithTracerProvider(d.Tracer),
			otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + routeOf(r.URL.Path) }))
	}
	return h
}

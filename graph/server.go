// Package graph assembles the HTTP server: the gqlgen executor with its transports and extensions, the
// directives, the error presenter, and the middleware (request id, logging, authentication, CORS).
package graph

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"behalf/apperr"
	"behalf/audit"
	"behalf/config"
	"behalf/graph/generated"
	"behalf/graph/graphiql"
	"behalf/graph/loaders"
	"behalf/model"
	"behalf/reqctx"
	"behalf/resolvers"
	"behalf/security"
	"behalf/store"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/rs/cors"
	"github.com/rs/zerolog"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
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
}

// internalError marks an error that is not a domain error: its detail is logged, never shown.
type internalError struct{ err error }

func (e internalError) Error() string { return e.err.Error() }
func (e internalError) Unwrap() error { return e.err }

// NewExecutor builds the gqlgen handler with explicit transports and extensions.
func NewExecutor(d Deps) *handler.Server {
	cfg := generated.Config{Resolvers: d.Resolver}
	cfg.Directives.Audit = auditDirective(d.DB, d.Audit)
	cfg.Directives.DenyOnBehalf = denyOnBehalf
	cfg.Directives.DenyApiKey = denyAPIKey
	setComplexity(&cfg.Complexity)
	srv := handler.New(generated.NewExecutableSchema(cfg))
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.AddTransport(transport.MultipartForm{MaxUploadSize: multipartMax(d.Config), MaxMemory: multipartMax(d.Config)})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](d.Config.QueryCacheSize))
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](d.Config.QueryCacheSize)})
	srv.Use(extension.FixedComplexityLimit(d.Config.ComplexityLimit))
	if !d.Config.Production() {
		srv.Use(extension.Introspection{})
	}
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		if oc := graphql.GetOperationContext(ctx); oc != nil {
			if rl := requestLogFrom(ctx); rl != nil {
				rl.setOperation(oc.OperationName)
			}
		}
		return next(ctx)
	})
	srv.AroundFields(func(ctx context.Context, next graphql.Resolver) (any, error) {
		res, err := next(ctx)
		if err != nil {
			var ae *apperr.Error
			var ge *gqlerror.Error
			if !errors.As(err, &ae) && !errors.As(err, &ge) && !errors.As(err, new(internalError)) {
				err = internalError{err}
			}
		}
		return res, err
	})
	srv.SetErrorPresenter(func(ctx context.Context, err error) *gqlerror.Error {
		return presentError(ctx, err)
	})
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		zerolog.Ctx(ctx).Error().Str("panic", fmt.Sprint(p)).Str("stack", string(debug.Stack())).Msg("panic in resolver")
		return internalError{fmt.Errorf("panic: %v", p)}
	})
	return srv
}

// presentError maps domain errors to the contract's extensions.code; anything else is logged and shown
// as a bare INTERNAL_SERVER_ERROR.
func presentError(ctx context.Context, err error) *gqlerror.Error {
	gqlErr := graphql.DefaultErrorPresenter(ctx, err)
	if gqlErr.Extensions == nil {
		gqlErr.Extensions = map[string]any{}
	}
	if ae, ok := apperr.As(err); ok {
		gqlErr.Message = ae.Message
		gqlErr.Extensions["code"] = string(ae.Code)
		if ae.Field != "" {
			gqlErr.Extensions["field"] = ae.Field
		}
		if ae.Code == apperr.Internal {
			zerolog.Ctx(ctx).Error().Err(err).Msg("internal error")
			gqlErr.Message = "internal error"
		}
		return gqlErr
	}
	var ie internalError
	if errors.As(err, &ie) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			zerolog.Ctx(ctx).Warn().Err(err).Msg("request cancelled")
		} else {
			zerolog.Ctx(ctx).Error().Err(err).Msg("internal error")
		}
		gqlErr.Message = "internal error"
		gqlErr.Extensions["code"] = string(apperr.Internal)
		return gqlErr
	}
	if _, ok := gqlErr.Extensions["code"]; !ok {
		// gqlgen's own input coercion errors (a malformed Time, an unknown enum value) carry no code.
		gqlErr.Extensions["code"] = string(apperr.BadUserInput)
	}
	return gqlErr
}

// NewHandler returns the whole HTTP handler: /graphql, /graphiql, /healthz, /readyz.
func NewHandler(d Deps) http.Handler {
	exec := NewExecutor(d)
	mux := http.NewServeMux()
	gql := requirePreflightForMultipart(limitMultipart(multipartMax(d.Config), authenticate(d, exec)))
	mux.Handle("/graphql", gql)
	gi := graphiql.Handler("behalf GraphiQL", "/graphql")
	mux.Handle("/graphiql", gi)
	mux.Handle("/graphiql/", gi)
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
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/graphiql", http.StatusFound)
	})
	var h http.Handler = mux
	if len(d.Config.CORSOrigins) > 0 {
		h = cors.New(cors.Options{
			AllowedOrigins: d.Config.CORSOrigins,
			AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodOptions},
			AllowedHeaders: []string{"Authorization", "Content-Type", "GraphQL-Require-Preflight", "Apollo-Require-Preflight", "X-Request-Id"},
			MaxAge:         600,
		}).Handler(h)
	}
	return withRequestContext(d.Log, d.Loaders, h)
}

// requestLog collects what the access log line reports.
type requestLog struct {
	mu        sync.Mutex
	operation string
}

func (l *requestLog) setOperation(op string) {
	l.mu.Lock()
	l.operation = op
	l.mu.Unlock()
}

type requestLogKey struct{}

func requestLogFrom(ctx context.Context) *requestLog {
	l, _ := ctx.Value(requestLogKey{}).(*requestLog)
	return l
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) { w.status = code; w.ResponseWriter.WriteHeader(code) }
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

var requestIDSafe = func(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// withRequestContext gives every request an id, a logger carrying it, request metadata for the audit
// trail, per-request loaders, and one access log line (never with headers or query strings, which
// could carry secrets).
func withRequestContext(log zerolog.Logger, f loaders.Fetchers, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rid := r.Header.Get("X-Request-Id")
		if !requestIDSafe(rid) {
			rid = newRequestID()
		}
		w.Header().Set("X-Request-Id", rid)
		ip, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			ip = r.RemoteAddr
		}
		l := log.With().Str("request_id", rid).Logger()
		rl := &requestLog{}
		ctx := l.WithContext(r.Context())
		ctx = context.WithValue(ctx, requestLogKey{}, rl)
		ctx = reqctx.With(ctx, reqctx.Meta{RequestID: rid, IP: ip, UserAgent: r.UserAgent()})
		if f.Users != nil {
			ctx = loaders.With(ctx, loaders.New(f))
		}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(ctx))
		rl.mu.Lock()
		op := rl.operation
		rl.mu.Unlock()
		// The logger may have gained identity fields during authentication.
		zerolog.Ctx(ctx).Info().Str("method", r.Method).Str("path", r.URL.Path).
			Int("status", sw.status).Int("bytes", sw.bytes).Str("operation", op).
			Dur("duration", time.Since(start)).Str("ip", ip).Msg("request")
	})
}

// credentialParams are query parameters that would carry a credential in a URL (where it leaks into
// logs, history and Referer headers); requests using them are refused.
var credentialParams = []string{"access_token", "token", "api_key", "apikey", "key", "authorization", "auth"}

// authenticate resolves the bearer credential to an identity. Invalid, expired or revoked credentials
// get UNAUTHENTICATED for the whole request rather than silently running as anonymous.
func authenticate(d Deps, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		for _, p := range credentialParams {
			if q.Has(p) {
				writeError(w, http.StatusBadRequest, apperr.BadUserInput, "credentials are accepted only in the Authorization header")
				return
			}
		}
		h := r.Header.Get("Authorization")
		if h == "" {
			next.ServeHTTP(w, r)
			return
		}
		scheme, token, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			writeError(w, http.StatusUnauthorized, apperr.Unauthenticated, "use Authorization: Bearer <token>")
			return
		}
		ctx := r.Context()
		id, err := d.Security.Authenticate(ctx, strings.TrimSpace(token))
		if err != nil {
			if apperr.CodeOf(err) == apperr.Unauthenticated {
				writeError(w, http.StatusUnauthorized, apperr.Unauthenticated, "invalid, expired or revoked credentials")
				return
			}
			zerolog.Ctx(ctx).Error().Err(err).Msg("authentication failed")
			writeError(w, http.StatusServiceUnavailable, apperr.Internal, "internal error")
			return
		}
		lc := zerolog.Ctx(ctx).With().Str("user_id", id.Actor().ID)
		if id.OnBehalf() {
			lc = lc.Str("operator_id", id.Operator.ID).Str("subject_id", id.User.ID)
		}
		if id.Session != nil {
			lc = lc.Str("session_id", id.Session.ID)
		}
		if id.APIKey != nil {
			lc = lc.Str("api_key_id", id.APIKey.ID)
		}
		l := lc.Logger()
		zerolog.Ctx(ctx).UpdateContext(func(c zerolog.Context) zerolog.Context { return l.With() })
		ctx = security.WithIdentity(l.WithContext(ctx), id)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// requirePreflightForMultipart refuses multipart requests without a non-simple header: browsers send a
// cross-site multipart POST without a CORS preflight, so without this an upload could be forged.
func requirePreflightForMultipart(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "multipart/") &&
			r.Header.Get("GraphQL-Require-Preflight") == "" && r.Header.Get("Apollo-Require-Preflight") == "" {
			writeError(w, http.StatusBadRequest, apperr.BadUserInput, "multipart requests need a GraphQL-Require-Preflight header")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// multipartMax is the largest multipart request: the upload limit plus room for the other parts.
func multipartMax(cfg config.Config) int64 { return cfg.UploadMaxBytes + 64<<10 }

// limitMultipart refuses multipart requests over max bytes with 413 and BAD_USER_INPUT, before the
// transport sees them (its own refusal carries no error code). A body of unknown length is buffered up
// to max+1 bytes to find out.
func limitMultipart(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "multipart/") {
			next.ServeHTTP(w, r)
			return
		}
		tooLarge := func() {
			writeError(w, http.StatusRequestEntityTooLarge, apperr.BadUserInput, fmt.Sprintf("multipart requests are limited to %d bytes", max))
		}
		if r.ContentLength > max {
			tooLarge()
			return
		}
		if r.ContentLength < 0 {
			body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
			if err != nil || int64(len(body)) > max {
				tooLarge()
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		}
		next.ServeHTTP(w, r)
	})
}

func writeError(w http.ResponseWriter, status int, code apperr.Code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="behalf"`)
	}
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"errors":[{"message":%q,"extensions":{"code":%q}}],"data":null}`, msg, code)
}

// pageCost prices a connection field: its selection once per requested node, so that a client cannot
// ask for 100 pages of 100 nodes in one cheap-looking query.
func pageCost(child int, first *int) int {
	n := store.DefaultPageSize
	if first != nil && *first >= 0 {
		n = min(*first, store.MaxPageSize)
	}
	return 1 + child*max(n, 1)
}

// setComplexity prices the connection fields by page size.
func setComplexity(c *generated.ComplexityRoot) {
	c.Query.Users = func(child int, _ *string, first *int, _ *string) int { return pageCost(child, first) }
	c.Query.Contacts = func(child int, _ *string, _ *string, first *int, _ *string) int { return pageCost(child, first) }
	c.Query.Organizations = func(child int, _ *string, first *int, _ *string) int { return pageCost(child, first) }
	c.Query.AuditEvents = func(child int, _ *model.AuditEventFilter, first *int, _ *string) int { return pageCost(child, first) }
	c.Organization.Contacts = func(child int, first *int, _ *string) int { return pageCost(child, first) }
	c.Query.MyOnBehalfActivity = func(child int, first *int, _ *string) int { return pageCost(child, first) }
	c.Query.Products = func(child int, _ *string, first *int, _ *string) int { return pageCost(child, first) }
	c.Query.Orders = func(child int, first *int, _ *string) int { return pageCost(child, first) }
}

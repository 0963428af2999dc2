package graph

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"sync"
	"time"

	"behalf/graph/loaders"
	"behalf/metrics"
	"behalf/reqctx"

	"github.com/rs/zerolog"
)

// requestLog collects what the access log line and the request metrics report.
type requestLog struct {
	mu        sync.Mutex
	operation string
	opType    string
	codes     []string
}

func (l *requestLog) setOperation(op, opType string) {
	l.mu.Lock()
	l.operation, l.opType = op, opType
	l.mu.Unlock()
}

// addCode notes an error code the response carries (each distinct code once, in order).
func (l *requestLog) addCode(code string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.codes {
		if c == code {
			return
		}
	}
	if len(l.codes) < 8 {
		l.codes = append(l.codes, code)
	}
}

func (l *requestLog) snapshot() (op, opType string, codes []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.operation, l.opType, append([]string(nil), l.codes...)
}

// recordErrorCode notes code in the request log of a response written outside gqlgen (transport and
// authentication refusals, OAuth errors); w is the access log's writer, or one passing through it.
func recordErrorCode(w http.ResponseWriter, code string) {
	if sw, ok := w.(*statusWriter); ok && sw.log != nil {
		sw.log.addCode(code)
	}
}

type requestLogKey struct{}

// requestState is one request's bookkeeping, allocated once for the whole middleware chain: the
// access log's collector and status writer, and the /graphql chain's status hint and response writers
// (withStatusHints, codedTransportErrors), which would otherwise cost an allocation each.
type requestState struct {
	log  requestLog
	sw   statusWriter
	hint statusHint
	hw   hintWriter
	cw   codeWriter
}

// stateFrom returns the request's state, or nil outside withRequestContext.
func stateFrom(ctx context.Context) *requestState {
	s, _ := ctx.Value(requestLogKey{}).(*requestState)
	return s
}

func requestLogFrom(ctx context.Context) *requestLog {
	if s := stateFrom(ctx); s != nil {
		return &s.log
	}
	return nil
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
	log    *requestLog
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
	var b [12]byte
	var out [24]byte
	_, _ = rand.Read(b[:])
	hex.Encode(out[:], b[:])
	return string(out[:])
}

// routes are the paths metrics label requests with; any other path is "other".
var routes = map[string]bool{"/graphql": true, "/oauth/token": true, "/.well-known/jwks.json": true,
	"/healthz": true, "/readyz": true, "/graphql/schema.graphql": true}

func routeOf(path string) string {
	if routes[path] {
		return path
	}
	return "other"
}

// withRequestContext gives every request an id, a logger carrying it, request metadata for the audit
// trail, per-request loaders, one access log line (never with headers or query strings, which could
// carry secrets) and its metrics.
func withRequestContext(log zerolog.Logger, f loaders.Fetchers, m *metrics.Metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// The server's own id names the request everywhere (logs, audit, errors); a client's
		// X-Request-Id is kept apart, sanitized, so it can correlate but never impersonate an id.
		rid := newRequestID()
		clientRID := r.Header.Get("X-Request-Id")
		if !requestIDSafe(clientRID) {
			clientRID = ""
		}
		w.Header().Set("X-Request-Id", rid)
		ip, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			ip = r.RemoteAddr
		}
		lc := log.With().Str("request_id", rid)
		if clientRID != "" {
			lc = lc.Str("client_request_id", clientRID)
		}
		l := lc.Logger()
		st := &requestState{}
		rl := &st.log
		annotateSpan(r.Context(), attrRequestID.String(rid))
		ctx := l.WithContext(r.Context())
		ctx = context.WithValue(ctx, requestLogKey{}, st)
		ctx = reqctx.With(ctx, reqctx.Meta{RequestID: rid, ClientRequestID: clientRID, IP: ip, UserAgent: r.UserAgent()})
		if f.Users != nil {
			ctx = loaders.WithLazy(ctx, f)
		}
		st.sw = statusWriter{ResponseWriter: w, log: rl}
		sw := &st.sw
		next.ServeHTTP(sw, r.WithContext(ctx))
		op, opType, codes := rl.snapshot()
		took := time.Since(start)
		// The logger may have gained identity fields during authentication.
		zerolog.Ctx(ctx).Info().Str("method", r.Method).Str("path", r.URL.Path).
			Int("status", sw.status).Int("bytes", sw.bytes).Str("operation", op).Str("operation_type", opType).
			Strs("error_codes", codes).Float64("duration_ms", float64(took.Microseconds())/1000).
			Str("ip", ip).Msg("request")
		route := routeOf(r.URL.Path)
		m.HTTPRequest(route, sw.status, took)
		if route == "/graphql" && r.Method != http.MethodOptions {
			code := ""
			if len(codes) > 0 {
				code = codes[0]
			}
			m.GraphQLRequest(op, opType, code, took)
		}
	})
}

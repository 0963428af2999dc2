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
	"behalf/reqctx"

	"github.com/rs/zerolog"
)

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
		rl := &requestLog{}
		ctx := l.WithContext(r.Context())
		ctx = context.WithValue(ctx, requestLogKey{}, rl)
		ctx = reqctx.With(ctx, reqctx.Meta{RequestID: rid, ClientRequestID: clientRID, IP: ip, UserAgent: r.UserAgent()})
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

package graph

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"behalf/apperr"
	"behalf/security"

	"github.com/vektah/gqlparser/v2/gqlerror"
)

// statusHint carries, from the error presenter to the response writer, the HTTP status the contract
// gives some errors: TOO_MANY_REQUESTS is 429 with Retry-After, a database outage (INTERNAL_SERVER_ERROR)
// 503, a request past its deadline (TIMEOUT) 504. gqlgen answers 200 for errors raised by resolvers;
// clients and proxies need the status to retry (or not) correctly.
type statusHint struct {
	mu         sync.Mutex
	status     int
	retryAfter time.Duration
}

type statusHintKey struct{}

// statusRank orders the hinted statuses: an outage outranks throttling.
func statusRank(s int) int {
	switch s {
	case http.StatusServiceUnavailable:
		return 3
	case http.StatusGatewayTimeout:
		return 2
	case http.StatusTooManyRequests:
		return 1
	}
	return 0
}

// hintFrom returns the request's status hint: its own context value, else the request state's (see
// withStatusHints); nil outside both.
func hintFrom(ctx context.Context) *statusHint {
	if h, ok := ctx.Value(statusHintKey{}).(*statusHint); ok {
		return h
	}
	if st := stateFrom(ctx); st != nil {
		return &st.hint
	}
	return nil
}

// noteStatus records the status an error asks for.
func noteStatus(ctx context.Context, status int, retryAfter time.Duration) {
	h := hintFrom(ctx)
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if statusRank(status) > statusRank(h.status) {
		h.status, h.retryAfter = status, retryAfter
	}
}

// presentWithStatus wraps the error presenter: a deadline becomes TIMEOUT, and the statuses above
// are noted for the response.
func presentWithStatus(ipRetry time.Duration) func(ctx context.Context, err error) *gqlerror.Error {
	return func(ctx context.Context, err error) *gqlerror.Error {
		g := presentError(ctx, err)
		if strings.HasPrefix(g.Message, "json request body could not be decoded") {
			// gqlgen's POST transport: not a GraphQL request (a batch, broken JSON). Its message echoes
			// the whole body, which could carry a password.
			g.Message = "the request body is not a GraphQL request in JSON (batches are not supported)"
			g.Extensions["code"], g.Extensions["hint"] = string(apperr.BadRequest), transportHint
		}
		if errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded && g.Extensions["code"] == string(apperr.Internal) {
			g.Message = "the request took too long"
			g.Extensions["code"] = string(apperr.Timeout)
		}
		switch g.Extensions["code"] {
		case string(apperr.TooManyRequests):
			ra := time.Second
			if e, ok := apperr.As(err); ok && e.Reason == security.ReasonIPFailures {
				ra = ipRetry
			} else if d, ok := security.RetryAfterOf(err); ok {
				ra = d // the hash limiter's estimate from its queue
			}
			noteStatus(ctx, http.StatusTooManyRequests, ra)
		case string(apperr.Internal):
			noteStatus(ctx, http.StatusServiceUnavailable, time.Second)
		case string(apperr.Timeout):
			noteStatus(ctx, http.StatusGatewayTimeout, 0)
		}
		return g
	}
}

// hintWriter applies the noted status when the response starts, unless the transport chose a
// non-200 status itself.
type hintWriter struct {
	http.ResponseWriter
	hint  *statusHint
	wrote bool
}

func (w *hintWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	if code == http.StatusOK {
		w.hint.mu.Lock()
		status, ra := w.hint.status, w.hint.retryAfter
		w.hint.mu.Unlock()
		if status != 0 {
			code = status
			if ra > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(int((ra+time.Second-1)/time.Second)))
			}
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *hintWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *hintWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// withStatusHints lets the error presenter choose the response status (see statusHint), and runs the
// request under its deadline: resolvers, SQL and validation observe the context, and a client that
// disconnects cancels it.
func withStatusHints(timeout time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		if st := stateFrom(ctx); st != nil {
			st.hw = hintWriter{ResponseWriter: w, hint: &st.hint}
			next.ServeHTTP(&st.hw, r.WithContext(ctx))
			return
		}
		h := &statusHint{}
		ctx = context.WithValue(ctx, statusHintKey{}, h)
		next.ServeHTTP(&hintWriter{ResponseWriter: w, hint: h}, r.WithContext(ctx))
	})
}

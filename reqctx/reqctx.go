// Package reqctx carries per-request metadata (request id, client ip, user agent) from the HTTP layer to
// the audit trail and logs, without the domain packages knowing about HTTP.
package reqctx

import "context"

// Meta describes the request being served.
type Meta struct {
	RequestID string
	// ClientRequestID is the client's X-Request-Id, sanitized (empty if absent or unsafe).
	ClientRequestID string
	IP              string
	UserAgent       string
}

type key struct{}

// With returns a context carrying m.
func With(ctx context.Context, m Meta) context.Context { return context.WithValue(ctx, key{}, m) }

// From returns the request's metadata (zero outside a request).
func From(ctx context.Context) Meta {
	m, _ := ctx.Value(key{}).(Meta)
	return m
}

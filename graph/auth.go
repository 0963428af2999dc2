package graph

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"behalf/apperr"
	"behalf/security"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"
)

// credentialParams are query parameters that would carry a credential in a URL (where it leaks into
// logs, history and Referer headers); requests using them are refused.
var credentialParams = []string{"access_token", "token", "api_key", "apikey", "key", "authorization", "auth"}

// authenticate resolves the bearer credential to an identity. Invalid, expired or revoked credentials
// get UNAUTHENTICATED for the whole request rather than silently running as anonymous.
func authenticate(d Deps, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Matched case-insensitively: ?Access_Token= leaks into logs just the same.
		for name := range queryParams(r.URL.RawQuery) {
			if slices.Contains(credentialParams, strings.ToLower(name)) {
				writeError(w, http.StatusBadRequest, apperr.BadUserInput, "credentials are accepted only in the Authorization header")
				return
			}
		}
		h := r.Header.Get("Authorization")
		if h == "" {
			next.ServeHTTP(w, r)
			return
		}
		token, ok := security.ParseBearer(h)
		if !ok {
			writeError(w, http.StatusUnauthorized, apperr.Unauthenticated, "use Authorization: Bearer <token>")
			return
		}
		ctx := r.Context()
		id, err := d.Security.Authenticate(ctx, token)
		if err != nil {
			if apperr.CodeOf(err) == apperr.Unauthenticated {
				writeError(w, http.StatusUnauthorized, apperr.Unauthenticated, "invalid, expired or revoked credentials")
				return
			}
			zerolog.Ctx(ctx).Error().Err(err).Msg("authentication failed")
			writeError(w, http.StatusServiceUnavailable, apperr.Internal, "internal error")
			return
		}
		// The request's logger (already in ctx) gains the identity's fields for every later line.
		zerolog.Ctx(ctx).UpdateContext(func(c zerolog.Context) zerolog.Context {
			c = c.Str("user_id", id.Actor().ID)
			if id.OnBehalf() {
				c = c.Str("operator_id", id.Operator.ID).Str("subject_id", id.User.ID)
			}
			if id.Session != nil {
				c = c.Str("session_id", id.Session.ID)
			}
			if id.APIKey != nil {
				c = c.Str("api_key_id", id.APIKey.ID)
			}
			return c
		})
		if span := trace.SpanFromContext(ctx); span.IsRecording() {
			span.SetAttributes(identityAttributes(id)...)
		}
		ctx = security.WithIdentity(ctx, id)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// queryParams parses a query string; most requests have none, and url.ParseQuery allocates a map
// even then.
func queryParams(raw string) url.Values {
	if raw == "" {
		return nil
	}
	v, _ := url.ParseQuery(raw)
	return v
}

package graph

import (
	"encoding/json"
	"errors"
	"net/http"

	"behalf/servicetoken"

	"github.com/rs/zerolog"
)

// tokenExchange serves POST /oauth/token (RFC 8693). The endpoint takes no client authentication: the
// session token in subject_token is the credential. A request with an Authorization header is refused
// with invalid_client (RFC 6749 §5.2 asks for 401 then), so an API key presented there gets nothing.
func tokenExchange(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeOAuthError(w, &servicetoken.Error{Code: "invalid_request", Description: "use POST", Status: http.StatusMethodNotAllowed})
			return
		}
		if r.Header.Get("Authorization") != "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="behalf"`)
			writeOAuthError(w, &servicetoken.Error{Code: "invalid_client", Status: http.StatusUnauthorized,
				Description: "this endpoint takes no client authentication: send the session token as subject_token"})
			return
		}
		if q := r.URL.Query(); q.Has("subject_token") || q.Has("actor_token") {
			writeOAuthError(w, &servicetoken.Error{Code: "invalid_request", Status: http.StatusBadRequest,
				Description: "tokens are accepted only in the request body"})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		if err := r.ParseForm(); err != nil {
			writeOAuthError(w, &servicetoken.Error{Code: "invalid_request", Status: http.StatusBadRequest,
				Description: "the body must be application/x-www-form-urlencoded and at most 16 KiB"})
			return
		}
		f := r.PostForm
		for _, k := range []string{"grant_type", "subject_token", "subject_token_type", "requested_token_type", "actor_token"} {
			if len(f[k]) > 1 {
				writeOAuthError(w, &servicetoken.Error{Code: "invalid_request", Status: http.StatusBadRequest,
					Description: k + " is given more than once"})
				return
			}
		}
		res, err := d.ServiceTokens.Exchange(ctx, servicetoken.Request{
			GrantType: f.Get("grant_type"), SubjectToken: f.Get("subject_token"),
			SubjectTokenType: f.Get("subject_token_type"), RequestedTokenType: f.Get("requested_token_type"),
			Audiences: f["audience"], ActorToken: f.Get("actor_token"),
		})
		var oe *servicetoken.Error
		switch {
		case errors.As(err, &oe):
			d.Metrics.TokenExchange(oe.Code)
			writeOAuthError(w, oe)
			return
		case err != nil:
			d.Metrics.TokenExchange("server_error")
			zerolog.Ctx(ctx).Error().Err(err).Msg("token exchange failed")
			writeOAuthError(w, &servicetoken.Error{Code: "server_error", Description: "internal error", Status: http.StatusInternalServerError})
			return
		}
		d.Metrics.TokenExchange("issued")
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		_ = json.NewEncoder(w).Encode(res)
	})
}

// writeOAuthError writes an RFC 6749 §5.2 error response.
func writeOAuthError(w http.ResponseWriter, e *servicetoken.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	recordErrorCode(w, e.Code)
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": e.Code, "error_description": e.Description})
}

// jwks serves GET /.well-known/jwks.json: the public keys of the service tokens, read from the
// database on each request so every replica publishes the same set, including a new key the moment
// another replica starts signing with it.
func jwks(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		set, err := d.ServiceTokens.JWKS(r.Context())
		if err != nil {
			zerolog.Ctx(r.Context()).Error().Err(err).Msg("jwks failed")
			http.Error(w, "service unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		// Short, so a verifier that refetches on an unknown kid sees a new key within a minute at worst.
		w.Header().Set("Cache-Control", "public, max-age=60")
		_ = json.NewEncoder(w).Encode(set)
	})
}

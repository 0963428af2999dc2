package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"behalf/apperr"
	"behalf/reqctx"

	"github.com/99designs/gqlgen/graphql"
	"github.com/rs/zerolog"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// internalError marks an error that is not a domain error: its detail is logged, never shown.
type internalError struct{ err error }

func (e internalError) Error() string { return e.err.Error() }
func (e internalError) Unwrap() error { return e.err }

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

func writeError(w http.ResponseWriter, status int, code apperr.Code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="behalf"`)
	}
	recordErrorCode(w, string(code))
	w.WriteHeader(status)
	// The request id middleware set X-Request-Id before any handler ran.
	_, _ = fmt.Fprintf(w, `{"errors":[{"message":%q,"extensions":{"code":%q,"requestId":%q}}],"data":null}`,
		msg, code, w.Header().Get("X-Request-Id"))
}

// annotateError adds the request id to a GraphQL error's extensions (so a client can quote it to
// support) and notes its code for the access log and the request metrics.
func annotateError(ctx context.Context, e *gqlerror.Error) *gqlerror.Error {
	if e == nil {
		return e
	}
	if e.Extensions == nil {
		e.Extensions = map[string]any{}
	}
	if rid := reqctx.From(ctx).RequestID; rid != "" {
		e.Extensions["requestId"] = rid
	}
	if rl := requestLogFrom(ctx); rl != nil {
		if code, ok := e.Extensions["code"].(string); ok {
			rl.addCode(code)
		}
	}
	return e
}

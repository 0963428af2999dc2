package graph

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"behalf/apperr"
	"behalf/config"
	"behalf/graph/querylimit"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

func init() {
	// A refused document is a request error like a parse failure: 400 with graphql-response+json.
	for _, c := range []apperr.Code{apperr.QueryTooLarge, apperr.QueryTooDeep, apperr.QueryTooWide, apperr.BadRequest} {
		errcode.RegisterErrorType(string(c), errcode.KindProtocol)
	}
}

// LimitsFrom reads the limits from the configuration.
func LimitsFrom(cfg config.Config) querylimit.Limits {
	return querylimit.Limits{
		MaxTokens: cfg.QueryMaxTokens, MaxDepth: cfg.QueryMaxDepth, MaxWidth: cfg.QueryMaxWidth,
		MaxFields: cfg.QueryMaxFields, MaxFragments: cfg.QueryMaxFragments, MaxDirectives: cfg.QueryMaxDirectives,
	}
}

// queryLimitsExtension runs querylimit.Limits.Check on every document not already in the query cache (a
// cached document was checked and validated before), ahead of gqlgen's parse and validation.
type queryLimitsExtension struct {
	limits querylimit.Limits
	cache  graphql.Cache[*ast.QueryDocument]
}

var (
	_ graphql.HandlerExtension          = queryLimitsExtension{}
	_ graphql.OperationParameterMutator = queryLimitsExtension{}
)

func (queryLimitsExtension) ExtensionName() string                          { return "QueryLimits" }
func (queryLimitsExtension) Validate(schema graphql.ExecutableSchema) error { return nil }

func (e queryLimitsExtension) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if strings.TrimSpace(p.Query) == "" {
		// Not a GraphQL request (no query, and no persisted one): a parameter error, 400.
		return &gqlerror.Error{Message: "the request has no query", Extensions: map[string]any{"code": string(apperr.BadRequest), "hint": transportHint}}
	}
	if e.cache != nil {
		if _, ok := e.cache.Get(ctx, p.Query); ok {
			return nil
		}
	}
	return e.limits.Check(p.Query)
}

// limitBody refuses a request body over max bytes with 413 and QUERY_TOO_LARGE before anything reads
// it: at once when Content-Length says so, else while reading. A JSON body is buffered (at most max
// bytes) and its query scanned by QueryLimits before the transport decodes the JSON, so an abusive
// document costs microseconds. Multipart requests have their own, larger limit (limitMultipart).
func limitBody(max int64, limits querylimit.Limits, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ct := strings.ToLower(r.Header.Get("Content-Type"))
		if r.Body == nil || r.Body == http.NoBody || strings.HasPrefix(ct, "multipart/") {
			next.ServeHTTP(w, r)
			return
		}
		tooLarge := func() {
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusRequestEntityTooLarge, apperr.QueryTooLarge, fmt.Sprintf("request bodies are limited to %d bytes", max))
		}
		if r.ContentLength > max {
			tooLarge()
			return
		}
		var body []byte
		var err error
		if r.ContentLength >= 0 {
			body = make([]byte, r.ContentLength)
			_, err = io.ReadFull(r.Body, body)
		} else {
			body, err = io.ReadAll(io.LimitReader(r.Body, max+1))
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, apperr.BadRequest, "could not read the request body")
			return
		}
		if int64(len(body)) > max {
			tooLarge()
			return
		}
		if r.Method == http.MethodPost && strings.HasPrefix(ct, "application/json") {
			if q, ok := querylimit.JSONQuery(body); ok {
				if gerr := querylimit.Scan(limits, q); gerr != nil {
					writeError(w, http.StatusBadRequest, apperr.Code(gerr.Extensions["code"].(string)), gerr.Message)
					return
				}
			}
		}
		r.Body = newBufferedBody(body)
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

package graph

import (
	"context"
	"fmt"
	"runtime/debug"

	"behalf/graph/generated"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/rs/zerolog"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// NewExecutor builds the gqlgen handler with explicit transports and extensions.
func NewExecutor(d Deps) *handler.Server {
	cfg := generated.Config{Resolvers: d.Resolver}
	events := d.Events
	if events == nil {
		events = noEmitter{}
	}
	cfg.Directives.Audit = auditDirective(d.DB, d.Audit, d.Metrics, events)
	cfg.Directives.DenyOnBehalf = denyOnBehalf(d.Resolver.OnBehalf.Policy)
	cfg.Directives.DenyApiKey = denyAPIKey(d.Resolver.OnBehalf.Policy)
	setComplexity(&cfg.Complexity)
	srv := handler.New(generated.NewExecutableSchema(cfg))
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(leanPOST{}) // transport.POST without re-reading the body and re-compacting the response
	srv.AddTransport(transport.MultipartForm{MaxUploadSize: multipartMax(d.Config), MaxMemory: multipartMax(d.Config)})
	srv.AddTransport(unsupportedTransport{}) // last: answers what no transport above took
	queryCache := lru.New[*ast.QueryDocument](d.Config.QueryCacheSize)
	srv.SetQueryCache(queryCache)
	srv.SetParserTokenLimit(d.Config.QueryMaxTokens)
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](d.Config.QueryCacheSize)})
	// After the persisted-query lookup (which fills in the query), before gqlgen parses and validates.
	srv.Use(queryLimitsExtension{limits: LimitsFrom(d.Config), cache: queryCache})
	srv.Use(onePasswordGuess{})
	srv.Use(extension.FixedComplexityLimit(d.Config.ComplexityLimit))
	if !d.Config.Production() {
		srv.Use(extension.Introspection{})
	} else {
		srv.SetDisableSuggestion(true) // no "Did you mean …": it would reveal the schema
	}
	setup := operationSetup{}
	if d.Tracer != nil {
		t := newTracer(d.Tracer)
		srv.Use(operationTracer{t})
		setup.trace = &t
	}
	// Last: it names the operation and installs the field middleware once every other mutator
	// (complexity, introspection) accepted the operation.
	srv.Use(setup)
	present := presentWithStatus(d.Security.IPRetryAfter())
	presenter := func(ctx context.Context, err error) *gqlerror.Error {
		return annotateError(ctx, present(ctx, err))
	}
	srv.SetErrorPresenter(presenter)
	srv.AroundOperations(shedPasswordMutations(d.Security.Hasher(), presenter))
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		zerolog.Ctx(ctx).Error().Str("panic", fmt.Sprint(p)).Str("stack", string(debug.Stack())).Msg("panic in resolver")
		return internalError{fmt.Errorf("panic: %v", p)}
	})
	return srv
}

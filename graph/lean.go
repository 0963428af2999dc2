package graph

import (
	"context"
	"errors"

	"behalf/apperr"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// operationSetup is the last operation-context mutator: it names the operation in the request log and
// installs the field middleware (fieldMiddleware). It replaces gqlgen's AroundOperations and
// AroundFields: every FieldInterceptor extension costs a closure allocation and two calls on every
// field of every response (500 for a page of 50 rows of 10 fields), although a field read from a
// struct cannot fail. gqlgen calls OperationContext.ResolverMiddleware for each field; setting it
// directly keeps that hook allocation-free.
type operationSetup struct {
	// trace, when set, wraps resolver fields in spans (the tracer's field part).
	trace *tracer
}

var (
	_ graphql.HandlerExtension        = operationSetup{}
	_ graphql.OperationContextMutator = operationSetup{}
)

func (operationSetup) ExtensionName() string                          { return "OperationSetup" }
func (operationSetup) Validate(schema graphql.ExecutableSchema) error { return nil }

func (s operationSetup) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if rl := requestLogFrom(ctx); rl != nil {
		name, opType := operationOf(oc)
		rl.setOperation(name, opType)
	}
	if s.trace == nil {
		oc.ResolverMiddleware = fieldMiddleware
		return nil
	}
	// Tracing is on: the tracer wraps each resolver in a span, outside the error classification
	// (as when it was a FieldInterceptor registered first).
	t := s.trace
	oc.ResolverMiddleware = func(ctx context.Context, next graphql.Resolver) (any, error) {
		if !mayFail(graphql.GetFieldContext(ctx)) {
			return next(ctx)
		}
		return t.InterceptField(ctx, func(ctx context.Context) (any, error) { return fieldMiddleware(ctx, next) })
	}
	return nil
}

// mayFail tells whether resolving a field can return an error: a resolver, a method, or a field with
// a directive. Any other field is read from a struct (`return obj.Name, nil`).
func mayFail(fc *graphql.FieldContext) bool {
	return fc == nil || fc.IsResolver || fc.IsMethod ||
		fc.Field.Definition == nil || len(fc.Field.Definition.Directives) > 0
}

// fieldMiddleware runs around every field: it refuses introspection when it is disabled, and marks
// an error that is neither a domain error nor a GraphQL error as internal (the presenter logs it and
// shows only INTERNAL_SERVER_ERROR). A field that cannot fail is resolved at once.
func fieldMiddleware(ctx context.Context, next graphql.Resolver) (any, error) {
	if !mayFail(graphql.GetFieldContext(ctx)) {
		return next(ctx)
	}
	if err := refuseIntrospection(ctx); err != nil {
		return nil, err
	}
	res, err := next(ctx)
	if err != nil {
		var ae *apperr.Error
		var ge *gqlerror.Error
		if !errors.As(err, &ae) && !errors.As(err, &ge) && !errors.As(err, new(internalError)) {
			err = internalError{err}
		}
	}
	return res, err
}

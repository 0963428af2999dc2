package graph

import (
	"context"
	"errors"

	"behalf/apperr"
	"behalf/security"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Span attributes naming who acts; in a login-on-behalf session both ids are set, so a trace shows the
// staff member really acting and the customer whose account it is.
const (
	attrUserID     = attribute.Key("behalf.user_id")
	attrOnBehalf   = attribute.Key("behalf.on_behalf")
	attrOperatorID = attribute.Key("behalf.operator_id")
	attrSubjectID  = attribute.Key("behalf.subject_id")
	attrSessionID  = attribute.Key("behalf.session_id")
	attrRequestID  = attribute.Key("behalf.request_id")
)

// identityAttributes describes the request's identity for spans (ids only, never logins or tokens).
func identityAttributes(id *security.Identity) []attribute.KeyValue {
	if id == nil || id.User == nil {
		return nil
	}
	attrs := []attribute.KeyValue{attrUserID.String(id.Actor().ID), attrOnBehalf.Bool(id.OnBehalf())}
	if id.OnBehalf() {
		attrs = append(attrs, attrOperatorID.String(id.Operator.ID), attrSubjectID.String(id.User.ID))
	}
	if sid := id.SessionID(); sid != "" {
		attrs = append(attrs, attrSessionID.String(sid))
	}
	return attrs
}

// tracer is a gqlgen extension giving each GraphQL operation and each resolver call its own span,
// children of the otelhttp request span.
type tracer struct{ t trace.Tracer }

var (
	_ graphql.HandlerExtension     = tracer{}
	_ graphql.OperationInterceptor = tracer{}
	_ graphql.FieldInterceptor     = tracer{}
)

// operationTracer is the extension registered with gqlgen: the tracer's operation part only. Its
// field part runs from the field middleware (operationSetup), for resolver fields only, so that
// plain fields cost nothing even with tracing on.
type operationTracer struct{ t tracer }

var _ graphql.OperationInterceptor = operationTracer{}

func (operationTracer) ExtensionName() string                          { return "OpenTelemetry" }
func (operationTracer) Validate(schema graphql.ExecutableSchema) error { return nil }

func (o operationTracer) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	return o.t.InterceptOperation(ctx, next)
}

func newTracer(tp trace.TracerProvider) tracer { return tracer{t: tp.Tracer("behalf/graph")} }

func (tracer) ExtensionName() string                          { return "OpenTelemetry" }
func (tracer) Validate(schema graphql.ExecutableSchema) error { return nil }

func (t tracer) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	name, opType := operationOf(graphql.GetOperationContext(ctx))
	attrs := append(identityAttributes(security.FromContext(ctx)),
		attribute.String("graphql.operation.name", name), attribute.String("graphql.operation.type", opType))
	ctx, span := t.t.Start(ctx, "graphql."+opType+" "+name, trace.WithAttributes(attrs...))
	handler := next(ctx)
	ended := false
	return func(ctx context.Context) *graphql.Response {
		resp := handler(ctx)
		if !ended {
			ended = true
			if resp != nil && len(resp.Errors) > 0 {
				code, _ := resp.Errors[0].Extensions["code"].(string)
				span.SetStatus(codes.Error, code)
			}
			span.End()
		}
		return resp
	}
}

func (t tracer) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !fc.IsResolver {
		return next(ctx)
	}
	ctx, span := t.t.Start(ctx, fc.Object+"."+fc.Field.Name,
		trace.WithAttributes(attribute.String("graphql.field.path", fc.Path().String())))
	defer span.End()
	res, err := next(ctx)
	if err != nil {
		// The contract code only: error texts may carry internals.
		code := string(apperr.CodeOf(err))
		var ge *gqlerror.Error
		if errors.As(err, &ge) {
			if c, ok := ge.Extensions["code"].(string); ok {
				code = c
			}
		}
		span.SetStatus(codes.Error, code)
	}
	return res, err
}

// annotateSpan puts attributes on the request's span (the otelhttp server span; a no-op when tracing
// is off).
func annotateSpan(ctx context.Context, attrs ...attribute.KeyValue) {
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetAttributes(attrs...)
	}
}

// operationOf names the operation being run (the request's operationName, else the document's) and
// its type (query, mutation, subscription).
func operationOf(oc *graphql.OperationContext) (name, opType string) {
	name = oc.OperationName
	if oc.Operation != nil {
		if name == "" {
			name = oc.Operation.Name
		}
		opType = string(oc.Operation.Operation)
	}
	return name, opType
}

package graph

import (
	"context"

	"behalf/apperr"
	"behalf/audit"
	"behalf/model"
	"behalf/onbehalf"
	"behalf/security"
	"behalf/store"

	"github.com/99designs/gqlgen/graphql"
	"github.com/rs/zerolog"
	"gorm.io/gorm"
)

// failureActions names the event recorded when a mutation fails, where the contract gives it its own
// name (a refused login is auth.login.failed, a refused login on behalf onbehalf.denied).
var failureActions = map[string]string{
	"auth.login":         "auth.login.failed",
	"onbehalf.requested": "onbehalf.denied",
	"onbehalf.started":   "onbehalf.denied",
}

// failureReasons renames a directive's refusal reason where the action's policy has its own code: a
// login on behalf asked for or confirmed from inside a login-on-behalf session is the policy's NESTED.
var failureReasons = map[string]map[string]string{
	"onbehalf.requested": {ErrOnBehalfDenied.Reason: onbehalf.ReasonNested},
	"onbehalf.started":   {ErrOnBehalfDenied.Reason: onbehalf.ReasonNested},
}

// auditDirective runs a mutation and its audit event in one transaction. On failure the transaction
// rolls back (nothing half-written), then the after-rollback hooks and a FAILURE event are committed
// on their own. Each recorded event is handed to the emitter in the same transaction (see Emitter).
func auditDirective(db *gorm.DB, auditor *audit.Service, events Emitter) func(ctx context.Context, obj any, next graphql.Resolver, action string) (any, error) {
	return func(ctx context.Context, obj any, next graphql.Resolver, action string) (any, error) {
		fc := graphql.GetFieldContext(ctx)
		ev := &model.AuditEvent{Action: action}
		if fc != nil {
			ev.Operation = fc.Field.Name
			ev.Arguments = audit.RedactArgs(fc.Args)
		}
		security.StampEvent(ctx, ev)
		ctx = audit.WithDraft(ctx, ev)
		hooks := &store.Hooks{}
		ctx = store.WithHooks(ctx, hooks)
		var res any
		emitted := false
		err := store.RunInTx(ctx, db, func(ctx context.Context) error {
			var err error
			res, err = next(ctx)
			if err != nil {
				return err
			}
			ev.Outcome = audit.Success
			if err := auditor.Record(ctx, ev); err != nil {
				return err
			}
			emitted, err = events.Emit(ctx, ev, res)
			return err
		})
		if err == nil {
			if emitted {
				events.Wake()
			}
			return res, nil
		}
		ev.ID, ev.Outcome, ev.ErrorCode = "", audit.Failure, string(apperr.CodeOf(err))
		if fa, ok := failureActions[action]; ok {
			ev.Action = fa
		}
		if e, ok := apperr.As(err); ok && e.Reason != "" {
			ev.Reason = e.Reason
			if r, ok := failureReasons[action][e.Reason]; ok {
				ev.Reason = r
			}
		}
		// Failure bookkeeping must not hide the original error; a failure here is logged by the caller's
		// error presenter only through the returned err.
		emitted = false
		ferr := store.RunInTx(context.WithoutCancel(ctx), db, func(ctx context.Context) error {
			if err := hooks.Run(ctx); err != nil {
				return err
			}
			if err := auditor.Record(ctx, ev); err != nil {
				return err
			}
			var err error
			emitted, err = events.Emit(ctx, ev, nil)
			return err
		})
		if ferr != nil {
			zerolog.Ctx(ctx).Error().Err(ferr).Str("action", ev.Action).Msg("recording the failure event failed")
		} else if emitted {
			events.Wake()
		}
		return nil, err
	}
}

// ErrOnBehalfDenied is returned for fields marked @denyOnBehalf inside a login-on-behalf session.
var ErrOnBehalfDenied = apperr.New(apperr.Forbidden, "not allowed in a login-on-behalf session").WithReason("ON_BEHALF")

// ErrAPIKeyDenied is returned for fields marked @denyApiKey when the caller used an API key.
var ErrAPIKeyDenied = apperr.New(apperr.Forbidden, "not allowed with an API key").WithReason("API_KEY")

func denyOnBehalf(ctx context.Context, obj any, next graphql.Resolver) (any, error) {
	if security.FromContext(ctx).OnBehalf() {
		return nil, ErrOnBehalfDenied
	}
	return next(ctx)
}

func denyAPIKey(ctx context.Context, obj any, next graphql.Resolver) (any, error) {
	if id := security.FromContext(ctx); id != nil && id.APIKey != nil {
		return nil, ErrAPIKeyDenied
	}
	return next(ctx)
}

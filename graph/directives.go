package graph

import (
	"context"

	"behalf/apperr"
	"behalf/audit"
	"behalf/metrics"
	"behalf/model"
	"behalf/onbehalf"
	"behalf/security"
	"behalf/store"

	"github.com/99designs/gqlgen/graphql"
	"github.com/rs/zerolog"
	"gorm.io/gorm"
)

// auditDirective runs a mutation and its audit event in one transaction. The event starts from the
// request's identity; the facts the resolver reported from its domain service (audit.Report) are
// merged in. On failure the transaction rolls back (nothing half-written), then the after-rollback
// hooks and a FAILURE event, named by the directive's `failure` action when it has one, are
// committed on their own. Each recorded event is handed to the emitter in the same transaction (see
// Emitter), and the emitter woken once that transaction committed.
func auditDirective(db *gorm.DB, auditor *audit.Service, m *metrics.Metrics, events Emitter) func(ctx context.Context, obj any, next graphql.Resolver, action string, failure *string) (any, error) {
	return func(ctx context.Context, obj any, next graphql.Resolver, action string, failure *string) (any, error) {
		base := &model.AuditEvent{Action: action}
		if fc := graphql.GetFieldContext(ctx); fc != nil {
			base.Operation = fc.Field.Name
			base.Arguments = audit.RedactArgs(fc.Args)
		}
		security.StampEvent(ctx, base)
		ctx, facts := audit.Collect(ctx)
		hooks := &store.Hooks{}
		ctx = store.WithHooks(ctx, hooks)
		var res any
		emitted := false
		err := store.RunInTx(ctx, db, func(ctx context.Context) error {
			var err error
			if res, err = next(ctx); err != nil {
				return err
			}
			ev := *base
			facts.Facts().Apply(&ev)
			ev.Outcome = audit.Success
			if err := auditor.Record(ctx, &ev); err != nil {
				m.AuditWriteFailed()
				return err
			}
			emitted, err = events.Emit(ctx, &ev, res)
			return err
		})
		if err == nil {
			if emitted {
				events.Wake()
			}
			return res, nil
		}
		ev := *base
		facts.Facts().Apply(&ev)
		ev.Outcome, ev.ErrorCode = audit.Failure, string(apperr.CodeOf(err))
		if failure != nil {
			ev.Action = *failure
		}
		if e, ok := apperr.As(err); ok && e.Reason != "" {
			ev.Reason = e.Reason
		}
		// Failure bookkeeping must not hide the original error: it is logged, and the client gets err.
		emitted = false
		if ferr := store.RunInTx(context.WithoutCancel(ctx), db, func(ctx context.Context) error {
			if err := hooks.Run(ctx); err != nil {
				return err
			}
			if err := auditor.Record(ctx, &ev); err != nil {
				m.AuditWriteFailed()
				return err
			}
			var err error
			emitted, err = events.Emit(ctx, &ev, nil)
			return err
		}); ferr != nil {
			zerolog.Ctx(ctx).Error().Err(ferr).Str("action", ev.Action).Msg("record failed mutation")
			store.CountLostBookkeeping()
		} else if emitted {
			events.Wake()
		}
		return nil, err
	}
}

// denyOnBehalf refuses a field marked @denyOnBehalf as the login-on-behalf policy says.
func denyOnBehalf(p onbehalf.Policy) func(ctx context.Context, obj any, next graphql.Resolver) (any, error) {
	return func(ctx context.Context, obj any, next graphql.Resolver) (any, error) {
		if err := p.CheckFrom(security.FromContext(ctx), onbehalf.NotOnBehalf); err != nil {
			return nil, err
		}
		return next(ctx)
	}
}

// denyAPIKey refuses a field marked @denyApiKey as the login-on-behalf policy says.
func denyAPIKey(p onbehalf.Policy) func(ctx context.Context, obj any, next graphql.Resolver) (any, error) {
	return func(ctx context.Context, obj any, next graphql.Resolver) (any, error) {
		if err := p.CheckFrom(security.FromContext(ctx), onbehalf.NotAPIKey); err != nil {
			return nil, err
		}
		return next(ctx)
	}
}

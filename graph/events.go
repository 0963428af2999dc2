package graph

import (
	"context"

	"behalf/model"
)

// Emitter turns audit events into outbound events (webhooks, e-mail) through the transactional
// outbox: the @audit directive calls Emit in the transaction that records the event, so a rolled-back
// mutation emits nothing, and Wake after that transaction committed, so the dispatcher starts at once.
type Emitter interface {
	Emit(ctx context.Context, ev *model.AuditEvent, result any) (bool, error)
	Wake()
}

// noEmitter is used when the server is built without integrations.
type noEmitter struct{}

func (noEmitter) Emit(context.Context, *model.AuditEvent, any) (bool, error) { return false, nil }
func (noEmitter) Wake()                                                      {}

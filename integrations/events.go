package integrations

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"behalf/model"
	"behalf/money"
	"behalf/store"
)

// eventOf maps a recorded audit event (action and outcome) to the outbox event it announces: the one
// place that decides which audited changes the outside world hears about.
var eventOf = map[string]map[model.AuditOutcome]string{
	"onbehalf.started":  {"SUCCESS": EventOnBehalfStarted},
	"onbehalf.ended":    {"SUCCESS": EventOnBehalfEnded},
	"onbehalf.denied":   {"FAILURE": EventOnBehalfDenied},
	"order.place":       {"SUCCESS": EventOrderPlaced},
	"order.pay":         {"SUCCESS": EventOrderPaid},
	"session.revoke":    {"SUCCESS": EventSessionRevoked},
	"session.revokeAll": {"SUCCESS": EventSessionRevoked},
}

// Payload is the body of every webhook: `{ "type", "timestamp", "data": { … } }`.
type Payload struct {
	Type      string         `json:"type"`
	Timestamp time.Time      `json:"timestamp"`
	Data      map[string]any `json:"data"`
}

// Emit writes the outbox event that the audit event ev announces, if any, with one delivery per
// subscribed active endpoint (and the customer's e-mail for onbehalf.started), through the context's
// transaction: it commits or rolls back with the change. result is the mutation's result, read for the
// ids only it carries (the order placed, the payment made). It reports whether anything was written,
// so the caller wakes the dispatcher after the commit.
func (s *Service) Emit(ctx context.Context, ev *model.AuditEvent, result any) (bool, error) {
	if ev.Action == "webhook.retry" && ev.Outcome == "SUCCESS" {
		return true, nil // nothing to write, but the dispatcher should look at the delivery now
	}
	typ, ok := eventOf[ev.Action][ev.Outcome]
	if !ok {
		return false, nil
	}
	data, dedup, ok := eventData(typ, ev, result)
	if !ok {
		return false, nil
	}
	at := ev.At
	if at.IsZero() {
		at = s.clock.Now()
	}
	wrote, err := s.enqueue(ctx, typ, dedup, at.UTC(), data)
	if err != nil {
		return false, fmt.Errorf("emit %s: %w", typ, err)
	}
	return wrote, nil
}

// eventData builds an event's data from the audit event and the mutation's result: actor and subject
// ids, the session, the reason, and what the change created. Never a token or a secret. dedup names
// the event once per thing it reports, so an idempotent replay of a mutation announces nothing new.
func eventData(typ string, ev *model.AuditEvent, result any) (data map[string]any, dedup string, ok bool) {
	data = map[string]any{
		"actorId":   deref(ev.ActorID),
		"subjectId": deref(ev.SubjectID),
		"onBehalf":  ev.OnBehalf,
		"sessionId": deref(ev.SessionID),
		"requestId": ev.RequestID,
	}
	switch typ {
	case EventOnBehalfStarted:
		data["reason"] = ev.Reason
		if p, isAuth := result.(*model.AuthPayload); isAuth && p != nil {
			data["expiresAt"] = p.ExpiresAt.UTC()
			if p.Session != nil {
				data["sessionId"] = p.Session.ID
			}
		}
		data["onBehalf"] = true
		dedup = typ + ":" + fmt.Sprint(data["sessionId"])
	case EventOnBehalfEnded:
		dedup = typ + ":" + deref(ev.SessionID)
	case EventOnBehalfDenied:
		data["reasonCode"] = ev.Reason
		data["errorCode"] = ev.ErrorCode
		data["operation"] = ev.Operation
	case EventOrderPlaced:
		o, isOrder := result.(*model.Order)
		if !isOrder || o == nil {
			return nil, "", false
		}
		data["orderId"], data["orderNumber"], data["customerId"] = o.ID, o.Number, o.CustomerID
		data["total"] = moneyOf(o.TotalMinor, o.Currency)
		dedup = typ + ":" + o.ID
	case EventOrderPaid:
		p, isPayment := result.(*model.Payment)
		if !isPayment || p == nil || p.Status != model.PaymentSucceeded {
			return nil, "", false
		}
		data["orderId"], data["paymentId"], data["customerId"] = p.OrderID, p.ID, p.CustomerID
		data["method"], data["amount"] = p.Method, moneyOf(p.AmountMinor, p.Currency)
		dedup = typ + ":" + p.ID
	case EventSessionRevoked:
		if ev.Action == "session.revokeAll" {
			data["revokedSessionId"], data["all"] = nil, true
			break
		}
		if revoked, isBool := result.(bool); !isBool || !revoked {
			return nil, "", false
		}
		var args struct {
			ID string `json:"id"`
		}
		// The arguments are the directive's own JSON; without them the event still names the actor.
		if err := json.Unmarshal([]byte(ev.Arguments), &args); err != nil {
			args.ID = ""
		}
		data["revokedSessionId"], data["all"] = args.ID, false
	}
	return data, dedup, true
}

func moneyOf(minor int64, currency string) map[string]string {
	return map[string]string{"amount": money.Format(minor, currency), "currency": currency}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// enqueue inserts the event (skipped when its dedup key was seen) and its deliveries.
func (s *Service) enqueue(ctx context.Context, typ, dedup string, at time.Time, data map[string]any) (bool, error) {
	body, err := json.Marshal(Payload{Type: typ, Timestamp: at, Data: data})
	if err != nil {
		return false, err
	}
	db := store.Conn(ctx, s.db)
	now := s.clock.Now()
	ev := &model.OutboxEvent{ID: model.NewID(), Type: typ, Payload: string(body), CreatedAt: now}
	if dedup != "" {
		var n int64
		if err := db.Model(&model.OutboxEvent{}).Where("dedup_key = ?", dedup).Count(&n).Error; err != nil {
			return false, err
		}
		if n > 0 {
			return false, nil
		}
		ev.DedupKey = &dedup
	}
	var eps []model.WebhookEndpoint
	if err := db.Where("active = ? AND deleted_at IS NULL", true).Order("id").Find(&eps).Error; err != nil {
		return false, err
	}
	var ds []*model.WebhookDelivery
	for i := range eps {
		if !subscribed(eps[i].Events, typ) {
			continue
		}
		epID := eps[i].ID
		ds = append(ds, &model.WebhookDelivery{Channel: ChannelWebhook, Target: "webhook:" + epID, EndpointID: &epID})
	}
	if typ == EventOnBehalfStarted && s.mailer != nil {
		d, err := s.customerMail(ctx, data)
		if err != nil {
			return false, err
		}
		if d != nil {
			ds = append(ds, d)
		}
	}
	if len(ds) == 0 {
		return false, nil
	}
	if err := db.Create(ev).Error; err != nil {
		return false, err
	}
	for _, d := range ds {
		d.ID, d.EventID, d.Status, d.NextAttemptAt, d.CreatedAt, d.UpdatedAt = model.NewID(), ev.ID, StatusPending, now, now, now
	}
	if err := db.Create(ds).Error; err != nil {
		return false, err
	}
	return true, nil
}

func subscribed(events []string, typ string) bool {
	for _, e := range events {
		if e == typ {
			return true
		}
	}
	return false
}

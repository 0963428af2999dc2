// Package audit writes and reads the audit trail. Events are written through the context's transaction
// (store.Conn), so an audited change and its event commit or roll back together.
package audit

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"time"

	"behalf/internal/clock"
	"behalf/model"
	"behalf/reqctx"
	"behalf/store"

	"gorm.io/gorm"
)

// Outcomes.
const (
	Success = "SUCCESS"
	Failure = "FAILURE"
)

// Service records and lists audit events.
type Service struct {
	db    *gorm.DB
	clock clock.Clock
}

// New returns an audit service.
func New(db *gorm.DB, c clock.Clock) *Service { return &Service{db: db, clock: c} }

// Record writes ev, filling id, time and the request's metadata where empty.
func (s *Service) Record(ctx context.Context, ev *model.AuditEvent) error {
	if ev.ID == "" {
		ev.ID = model.NewID()
	}
	if ev.At.IsZero() {
		ev.At = s.clock.Now()
	}
	if ev.Outcome == "" {
		ev.Outcome = Success
	}
	m := reqctx.From(ctx)
	if ev.RequestID == "" {
		ev.RequestID = m.RequestID
	}
	if ev.IP == "" {
		ev.IP = m.IP
	}
	if ev.UserAgent == "" {
		ev.UserAgent = m.UserAgent
	}
	return store.Conn(ctx, s.db).Create(ev).Error
}

// secretKeys are argument names whose values are never recorded.
var secretKeys = map[string]bool{
	"password": true, "currentpassword": true, "newpassword": true, "ticket": true, "token": true,
	"paymenttoken": true, "secret": true, "apikey": true, "authorization": true, "file": true,
}

// Redacted is what replaces a secret argument's value.
const Redacted = "[REDACTED]"

// RedactArgs renders GraphQL arguments as JSON with secrets replaced by Redacted.
func RedactArgs(args map[string]any) string {
	if len(args) == 0 {
		return ""
	}
	b, err := json.Marshal(redact(args))
	if err != nil {
		return ""
	}
	return string(b)
}

func redact(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			if secretKeys[strings.ToLower(k)] {
				out[k] = Redacted
				continue
			}
			out[k] = redact(val)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, val := range t {
			out[i] = redact(val)
		}
		return out
	default:
		// Structs (generated input types) go through JSON to become maps, so their secret fields are
		// redacted too.
		b, err := json.Marshal(t)
		if err != nil {
			return nil
		}
		if len(b) > 0 && (b[0] == '{' || b[0] == '[') {
			var m any
			if json.Unmarshal(b, &m) == nil {
				return redact(m)
			}
		}
		return t
	}
}

// Filter selects events; zero fields do not filter.
type Filter struct {
	ActorID   *string
	SubjectID *string
	Action    *string
	Outcome   *string // SUCCESS or FAILURE
	OnBehalf  *bool
	From      *time.Time
	To        *time.Time
}

// List returns events matching f, newest first.
func (s *Service) List(ctx context.Context, f Filter, page store.PageArgs) (*model.AuditEventConnection, error) {
	q := s.db.WithContext(ctx).Model(&model.AuditEvent{})
	if f.ActorID != nil {
		q = q.Where("actor_id = ?", *f.ActorID)
	}
	if f.SubjectID != nil {
		q = q.Where("subject_id = ?", *f.SubjectID)
	}
	if f.Action != nil {
		q = q.Where("action = ?", *f.Action)
	}
	if f.Outcome != nil {
		q = q.Where("outcome = ?", *f.Outcome)
	}
	if f.OnBehalf != nil {
		q = q.Where("on_behalf = ?", *f.OnBehalf)
	}
	if f.From != nil {
		q = q.Where("at >= ?", f.From.UTC())
	}
	if f.To != nil {
		q = q.Where("at < ?", f.To.UTC())
	}
	return store.Page(ctx, q, page, true, func(e *model.AuditEvent) string { return e.ID })
}

// Actions lists the distinct actions recorded, sorted (for admin filters and tests).
func (s *Service) Actions(ctx context.Context) ([]string, error) {
	var out []string
	err := s.db.WithContext(ctx).Model(&model.AuditEvent{}).Distinct().Pluck("action", &out).Error
	sort.Strings(out)
	return out, err
}

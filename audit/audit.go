// Package audit writes and reads the audit trail. Events are written through the context's transaction
// (store.Conn), so an audited change and its event commit or roll back together.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
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
	Success = model.AuditSuccess
	Failure = model.AuditFailure
)

// Service records and lists audit events.
type Service struct {
	db      *gorm.DB
	clock   clock.Clock
	signing Signing
	wake    chan struct{} // a checkpoint may be due (see RunCheckpoints)
}

// New returns an audit service; signing (at most one) configures signed checkpoints.
func New(db *gorm.DB, c clock.Clock, signing ...Signing) *Service {
	s := &Service{db: db, clock: c, wake: make(chan struct{}, 1)}
	if len(signing) > 0 {
		s.signing = signing[0]
	}
	return s
}

// appended notes that the event seq was committed (or is about to be: the caller's transaction
// decides), waking the checkpoint signer every N events.
func (s *Service) appended(seq int64) {
	if s.signing.Key != nil && s.signing.EveryN > 0 && seq%s.signing.EveryN == 0 {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// Record appends ev to the chain, filling id, time and the request's metadata where empty, then its
// seq, prevHash and hash. It joins the context's transaction (store.Conn), so the audited change and
// its event commit or roll back together; outside one it opens its own. Appends are serialized: on
// PostgreSQL by a transaction-scoped advisory lock taken just before the insert (held until commit,
// so only the end of a mutation waits), on SQLite by its immediate write transactions. On PostgreSQL
// the lock, the head, the hash and the insert are one statement (audit_append, migration 00085).
func (s *Service) Record(ctx context.Context, ev *model.AuditEvent) error {
	if ev.ID == "" {
		ev.ID = model.NewID()
	}
	if ev.At.IsZero() {
		ev.At = s.clock.Now()
	}
	ev.At = chainTime(ev.At)
	if ev.Outcome == "" {
		ev.Outcome = Success
	}
	m := reqctx.From(ctx)
	if ev.RequestID == "" {
		ev.RequestID = m.RequestID
	}
	if ev.ClientRequestID == "" {
		ev.ClientRequestID = m.ClientRequestID
	}
	if ev.IP == "" {
		ev.IP = m.IP
	}
	if ev.UserAgent == "" {
		ev.UserAgent = m.UserAgent
	}
	err := store.RunInTx(ctx, s.db, func(ctx context.Context) error {
		db := store.Conn(ctx, s.db)
		if store.Dialect(db) == store.Postgres {
			return appendPostgres(db, ev)
		}
		head, err := headOf(db) // SQLite: the immediate transaction holds the write lock already
		if err != nil {
			return err
		}
		ev.Seq, ev.PrevHash = head.Seq+1, head.Hash
		ev.Hash = Hash(ev)
		if err := db.Create(ev).Error; err != nil {
			return fmt.Errorf("insert audit event %d: %w", ev.Seq, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record audit event %s: %w", ev.Action, err)
	}
	s.appended(ev.Seq)
	return nil
}

// chainLockKey is the PostgreSQL advisory lock that serializes appends to the chain ("behalf" in
// ASCII).
const chainLockKey = 0x626568616c66

// lockChain takes the chain's append lock for the rest of db's transaction (PostgreSQL; SQLite's
// immediate transaction already holds the database's write lock).
func lockChain(db *gorm.DB) error {
	if store.Dialect(db) != store.Postgres {
		return nil
	}
	if err := db.Exec("SELECT pg_advisory_xact_lock(?)", chainLockKey).Error; err != nil {
		return fmt.Errorf("lock audit chain: %w", err)
	}
	return nil
}

// appendSQL calls audit_append (migration 00085): lock, head, hash and insert in one round trip. pgx
// prepares it once per connection (its default statement cache).
const appendSQL = "SELECT new_seq, new_prev_hash, new_hash FROM audit_append(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

// appendPostgres appends ev (id, time and metadata filled) with audit_append and sets its seq,
// prevHash and hash. The database hashes the canonical encoding from the bytes Go encodes after
// prevHash; the hash is recomputed here and a difference refused, so audit.Canonical stays the one
// definition of the encoding.
func appendPostgres(db *gorm.DB, ev *model.AuditEvent) error {
	var seq int64
	var prev, hash string
	err := db.Raw(appendSQL, int64(chainLockKey), ev.ID, ev.At, ev.Action, ev.ActorID, ev.ActorLogin, ev.SubjectID,
		ev.SubjectLogin, ev.OnBehalf, ev.SessionID, ev.Reason, string(ev.Outcome), ev.ErrorCode, ev.Operation,
		ev.Arguments, ev.IP, ev.UserAgent, ev.RequestID, ev.ClientRequestID, canonicalTail(nil, ev)).
		Row().Scan(&seq, &prev, &hash)
	if err != nil {
		return fmt.Errorf("append audit event: %w", err)
	}
	ev.Seq, ev.PrevHash = seq, prev
	if ev.Hash = Hash(ev); ev.Hash != hash {
		return fmt.Errorf("append audit event %d: the database hashed %s, the canonical encoding gives %s", seq, hash, ev.Hash)
	}
	return nil
}

// Head is the last event of the chain: its seq and hash (seq 0 and GenesisHash when empty).
type Head struct {
	Seq  int64
	Hash string
}

func headOf(db *gorm.DB) (Head, error) {
	var rows []Head
	if err := db.Raw("SELECT seq, hash FROM audit_events WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1").Scan(&rows).Error; err != nil {
		return Head{}, fmt.Errorf("read audit chain head: %w", err)
	}
	if len(rows) == 0 {
		return Head{Hash: GenesisHash}, nil
	}
	return rows[0], nil
}

// Head returns the chain's last event.
func (s *Service) Head(ctx context.Context) (Head, error) {
	return headOf(store.Conn(ctx, s.db))
}

// Seal chains the events recorded before the chain existed (seq still empty), oldest first, after
// the current head. `behalf migrate` and start-up run it; it does nothing once every event is sealed.
func (s *Service) Seal(ctx context.Context) (int, error) {
	n := 0
	for {
		var batch []*model.AuditEvent
		if err := s.db.WithContext(ctx).Where("seq IS NULL").Order("at, id").Limit(500).Find(&batch).Error; err != nil {
			return n, fmt.Errorf("seal audit events: %w", err)
		}
		if len(batch) == 0 {
			return n, nil
		}
		err := store.RunInTx(ctx, s.db, func(ctx context.Context) error {
			db := store.Conn(ctx, s.db)
			if err := lockChain(db); err != nil {
				return err
			}
			head, err := headOf(db)
			if err != nil {
				return err
			}
			for _, ev := range batch {
				ev.At = chainTime(ev.At)
				ev.Seq, ev.PrevHash = head.Seq+1, head.Hash
				ev.Hash = Hash(ev)
				res := db.Model(&model.AuditEvent{}).Where("id = ? AND seq IS NULL", ev.ID).
					Updates(map[string]any{"seq": ev.Seq, "prev_hash": ev.PrevHash, "hash": ev.Hash, "at": ev.At})
				if res.Error != nil {
					return fmt.Errorf("seal audit event %s: %w", ev.ID, res.Error)
				}
				head = Head{Seq: ev.Seq, Hash: ev.Hash}
			}
			return nil
		})
		if err != nil {
			return n, err
		}
		n += len(batch)
	}
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
	Outcome   *model.AuditOutcome
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

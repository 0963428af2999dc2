package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"behalf/model"

	"gorm.io/gorm"
)

// Kinds of break that Verify reports.
const (
	Edited    = "edited"    // an event's content (or its recorded hash) no longer matches
	Deleted   = "deleted"   // an event is missing: a gap in seq, a renumbered tail, or a head beyond the end
	Reordered = "reordered" // events are out of their chained order
	Inserted  = "inserted"  // an event that was never appended by the server is in the chain
)

// Break is the first place the chain does not hold.
type Break struct {
	Seq    int64  `json:"seq"`
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
}

func (b *Break) Error() string { return fmt.Sprintf("seq %d: %s (%s)", b.Seq, b.Kind, b.Detail) }

// Result is what Verify found.
type Result struct {
	From   int64  // first seq checked
	Events int64  // events checked
	Head   Head   // the last event checked
	Break  *Break // nil when intact
}

// Source yields events in seq order.
type Source interface {
	// Each calls fn for every event with seq >= from, in seq order, until fn or the source fails.
	Each(ctx context.Context, from int64, fn func(*model.AuditEvent) error) error
	// HasHash reports whether some event of the chain has that hash.
	HasHash(ctx context.Context, hash string) (bool, error)
	// Unchained counts events outside the chain (without a seq).
	Unchained(ctx context.Context) (int64, error)
}

// maxShift is how far Verify looks for an event whose hash holds under another seq (events renumbered
// around an insertion or deletion).
const maxShift = 64

// Verify walks the chain from seq from (1 for the whole chain) and reports the first break. With cp,
// it also checks that the chain still holds cp's head (cp's signature is the caller's to check). An
// error is a failure to read, not a broken chain.
func Verify(ctx context.Context, src Source, from int64, cp *Checkpoint) (*Result, error) {
	if from < 1 {
		from = 1
	}
	r := &Result{From: from}
	exp := from
	var prev string // the hash the next event must carry as prevHash ("" until the first, when from > 1)
	if from == 1 {
		prev = GenesisHash
	}
	var cpHash string
	stop := fmt.Errorf("stop")
	err := src.Each(ctx, from, func(ev *model.AuditEvent) error {
		if b, err := check(ctx, src, ev, exp, prev); err != nil {
			return err
		} else if b != nil {
			r.Break = b
			return stop
		}
		if cp != nil && ev.Seq == cp.Seq {
			cpHash = ev.Hash
		}
		r.Events++
		r.Head = Head{Seq: ev.Seq, Hash: ev.Hash}
		exp, prev = ev.Seq+1, ev.Hash
		return nil
	})
	if err != nil && err != stop {
		return nil, err
	}
	if r.Break != nil {
		return r, nil
	}
	if cp != nil && cp.Seq >= from {
		switch {
		case r.Head.Seq < cp.Seq:
			r.Break = &Break{Seq: r.Head.Seq + 1, Kind: Deleted,
				Detail: fmt.Sprintf("the chain ends at %d but checkpoint %d was signed", r.Head.Seq, cp.Seq)}
		case cpHash != cp.Hash:
			r.Break = &Break{Seq: cp.Seq, Kind: Edited, Detail: "the event's hash differs from the signed checkpoint's"}
		}
		if r.Break != nil {
			return r, nil
		}
	}
	n, err := src.Unchained(ctx)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		r.Break = &Break{Seq: r.Head.Seq + 1, Kind: Inserted, Detail: fmt.Sprintf("%d events without a seq are outside the chain", n)}
	}
	return r, nil
}

// check classifies ev, expected at seq exp after an event hashed prev ("" to accept any prevHash).
func check(ctx context.Context, src Source, ev *model.AuditEvent, exp int64, prev string) (*Break, error) {
	if ev.Seq > exp {
		return &Break{Seq: exp, Kind: Deleted, Detail: fmt.Sprintf("next event is %d", ev.Seq)}, nil
	}
	if ev.Seq < exp {
		return &Break{Seq: ev.Seq, Kind: Reordered, Detail: fmt.Sprintf("seq %d after %d", ev.Seq, exp-1)}, nil
	}
	linked := prev == "" || ev.PrevHash == prev
	if Hash(ev) == ev.Hash {
		if linked {
			return nil, nil
		}
		// A well-formed event that does not follow its predecessor: the one before was rewritten
		// (and re-hashed by whoever rewrote it).
		return &Break{Seq: exp - 1, Kind: Edited, Detail: fmt.Sprintf("event %d does not chain to it", exp)}, nil
	}
	if linked {
		return &Break{Seq: exp, Kind: Edited, Detail: "hash does not match the event's content"}, nil
	}
	// Neither hashed as recorded nor chained: find where the event came from.
	for d := int64(1); d <= maxShift; d++ {
		if hashAt(ev, ev.Seq-d) == ev.Hash {
			return &Break{Seq: exp - d, Kind: Inserted, Detail: fmt.Sprintf("event %d was moved up by %d", ev.Seq-d, d)}, nil
		}
	}
	found, err := src.HasHash(ctx, ev.PrevHash)
	if err != nil {
		return nil, err
	}
	if found {
		return &Break{Seq: exp, Kind: Reordered, Detail: "the event chains to another event than the one before it"}, nil
	}
	for d := int64(1); d <= maxShift; d++ {
		if hashAt(ev, ev.Seq+d) == ev.Hash {
			return &Break{Seq: exp, Kind: Deleted, Detail: fmt.Sprintf("event %d was renumbered to %d", ev.Seq+d, ev.Seq)}, nil
		}
	}
	return &Break{Seq: exp, Kind: Edited, Detail: "hash and prevHash do not match"}, nil
}

func hashAt(ev *model.AuditEvent, seq int64) string {
	c := *ev
	c.Seq = seq
	return Hash(&c)
}

// DBSource reads the chain from the database.
type DBSource struct{ DB *gorm.DB }

// verifyBatch is how many events Verify reads per query.
const verifyBatch = 5000

// eventColumns are the columns Each reads, in the order it scans them.
const eventColumns = `seq, prev_hash, hash, id, at, action, actor_id, actor_login, subject_id, subject_login, on_behalf,
	session_id, reason, outcome, error_code, operation, arguments, ip, user_agent, request_id`

// Each implements Source with keyset pages of verifyBatch events, scanned without reflection (a
// million events are read in one verify).
func (s DBSource) Each(ctx context.Context, from int64, fn func(*model.AuditEvent) error) error {
	after := from - 1
	for {
		n, last, err := s.page(ctx, after, fn)
		if err != nil {
			return err
		}
		if n < verifyBatch {
			return nil
		}
		after = last
	}
}

// page reads the verifyBatch events after seq after, returning how many and the last seq.
func (s DBSource) page(ctx context.Context, after int64, fn func(*model.AuditEvent) error) (int, int64, error) {
	rows, err := s.DB.WithContext(ctx).Raw("SELECT "+eventColumns+" FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?", after, verifyBatch).Rows()
	if err != nil {
		return 0, 0, fmt.Errorf("read audit events after %d: %w", after, err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		ev := &model.AuditEvent{}
		var outcome string
		if err := rows.Scan(&ev.Seq, &ev.PrevHash, &ev.Hash, &ev.ID, &ev.At, &ev.Action, &ev.ActorID, &ev.ActorLogin,
			&ev.SubjectID, &ev.SubjectLogin, &ev.OnBehalf, &ev.SessionID, &ev.Reason, &outcome, &ev.ErrorCode,
			&ev.Operation, &ev.Arguments, &ev.IP, &ev.UserAgent, &ev.RequestID); err != nil {
			return n, after, fmt.Errorf("read audit event after %d: %w", after, err)
		}
		ev.Outcome = model.AuditOutcome(outcome)
		n++
		after = ev.Seq
		if err := fn(ev); err != nil {
			return n, after, err
		}
	}
	if err := rows.Err(); err != nil {
		return n, after, fmt.Errorf("read audit events: %w", err)
	}
	return n, after, nil
}

// HasHash implements Source.
func (s DBSource) HasHash(ctx context.Context, hash string) (bool, error) {
	var n int64
	if err := s.DB.WithContext(ctx).Model(&model.AuditEvent{}).Where("hash = ? AND seq IS NOT NULL", hash).Count(&n).Error; err != nil {
		return false, fmt.Errorf("look up audit hash: %w", err)
	}
	return n > 0, nil
}

// Unchained implements Source.
func (s DBSource) Unchained(ctx context.Context) (int64, error) {
	var n int64
	if err := s.DB.WithContext(ctx).Model(&model.AuditEvent{}).Where("seq IS NULL").Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count unchained audit events: %w", err)
	}
	return n, nil
}

// Exported is one line of `behalf audit export --format jsonl`: every field of the event, its hashes
// included, so the export verifies on its own.
type Exported struct {
	Seq          int64              `json:"seq"`
	PrevHash     string             `json:"prevHash"`
	Hash         string             `json:"hash"`
	ID           string             `json:"id"`
	At           time.Time          `json:"at"`
	Action       string             `json:"action"`
	ActorID      *string            `json:"actorId"`
	ActorLogin   string             `json:"actorLogin"`
	SubjectID    *string            `json:"subjectId"`
	SubjectLogin string             `json:"subjectLogin"`
	OnBehalf     bool               `json:"onBehalf"`
	SessionID    *string            `json:"sessionId"`
	Reason       string             `json:"reason"`
	Outcome      model.AuditOutcome `json:"outcome"`
	ErrorCode    string             `json:"errorCode"`
	Operation    string             `json:"operation"`
	Arguments    string             `json:"arguments"`
	IP           string             `json:"ip"`
	UserAgent    string             `json:"userAgent"`
	RequestID    string             `json:"requestId"`
}

// Export converts an event to its export line.
func Export(ev *model.AuditEvent) Exported {
	return Exported{
		Seq: ev.Seq, PrevHash: ev.PrevHash, Hash: ev.Hash, ID: ev.ID, At: ev.At.UTC(), Action: ev.Action,
		ActorID: ev.ActorID, ActorLogin: ev.ActorLogin, SubjectID: ev.SubjectID, SubjectLogin: ev.SubjectLogin,
		OnBehalf: ev.OnBehalf, SessionID: ev.SessionID, Reason: ev.Reason, Outcome: ev.Outcome,
		ErrorCode: ev.ErrorCode, Operation: ev.Operation, Arguments: ev.Arguments, IP: ev.IP,
		UserAgent: ev.UserAgent, RequestID: ev.RequestID,
	}
}

// Event converts an export line back to the event.
func (x Exported) Event() *model.AuditEvent {
	return &model.AuditEvent{
		Seq: x.Seq, PrevHash: x.PrevHash, Hash: x.Hash, ID: x.ID, At: x.At, Action: x.Action,
		ActorID: x.ActorID, ActorLogin: x.ActorLogin, SubjectID: x.SubjectID, SubjectLogin: x.SubjectLogin,
		OnBehalf: x.OnBehalf, SessionID: x.SessionID, Reason: x.Reason, Outcome: x.Outcome,
		ErrorCode: x.ErrorCode, Operation: x.Operation, Arguments: x.Arguments, IP: x.IP,
		UserAgent: x.UserAgent, RequestID: x.RequestID,
	}
}

// ExportJSONL writes the events with seq >= from and at >= since (zero: all) as JSON lines, in seq
// order; it returns how many.
func ExportJSONL(ctx context.Context, src Source, from int64, since time.Time, w io.Writer) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	var n int64
	err := src.Each(ctx, from, func(ev *model.AuditEvent) error {
		if !since.IsZero() && ev.At.Before(since) {
			return nil
		}
		n++
		return enc.Encode(Export(ev))
	})
	if err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// FileSource reads an export (JSON lines in seq order) from a file.
type FileSource struct{ Path string }

// Each implements Source.
func (s FileSource) Each(ctx context.Context, from int64, fn func(*model.AuditEvent) error) error {
	f, err := os.Open(s.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var x Exported
		if err := json.Unmarshal(sc.Bytes(), &x); err != nil {
			return fmt.Errorf("%s line %d: %w", s.Path, line, err)
		}
		if x.Seq < from {
			continue
		}
		if err := fn(x.Event()); err != nil {
			return err
		}
	}
	return sc.Err()
}

// HasHash implements Source by scanning the file.
func (s FileSource) HasHash(ctx context.Context, hash string) (bool, error) {
	found := false
	stop := fmt.Errorf("found")
	err := s.Each(ctx, 0, func(ev *model.AuditEvent) error {
		if ev.Hash == hash {
			found = true
			return stop
		}
		return nil
	})
	if err != nil && err != stop {
		return false, err
	}
	return found, nil
}

// Unchained implements Source: an export holds only chained events.
func (s FileSource) Unchained(context.Context) (int64, error) { return 0, nil }

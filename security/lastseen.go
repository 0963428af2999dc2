package security

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"behalf/model"
	"behalf/store"

	"github.com/rs/zerolog"
)

// Last-seen (sessions) and last-used (API keys) stamps are kept in memory by the request that uses the
// credential and written in the background, one statement per table and interval for every busy
// credential (FlushLastSeen), never on the request path. A crash loses at most one interval of stamps.
// The idle timeout of a session uses the later of the stored stamp and this process's own.

// touchLog holds the stamps not yet written: pending ones, and those a flush is writing right now
// (still consulted, so a stamp never disappears from view between memory and the database).
type touchLog struct {
	mu       sync.Mutex
	sessions map[string]time.Time
	keys     map[string]time.Time
	inflight struct{ sessions, keys map[string]time.Time }
}

func newTouchLog() *touchLog {
	return &touchLog{sessions: map[string]time.Time{}, keys: map[string]time.Time{}}
}

// seen stamps session id as used at now, unless it went idle: its last use, the later of stored and of
// this process's stamps, is idle or longer ago (idle <= 0: no idle timeout). It reports whether the
// session is still within its idle timeout.
func (t *touchLog) seen(id string, stored, now time.Time, idle time.Duration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	last := latest(stored, t.sessions[id], t.inflight.sessions[id])
	if idle > 0 && now.Sub(last) >= idle {
		return false
	}
	if now.After(t.sessions[id]) {
		t.sessions[id] = now
	}
	return true
}

func (t *touchLog) touchKey(id string, at time.Time) {
	t.mu.Lock()
	if at.After(t.keys[id]) {
		t.keys[id] = at
	}
	t.mu.Unlock()
}

// session returns the latest stamp of a session known to this process and not yet written (zero if
// none).
func (t *touchLog) session(id string) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return latest(t.sessions[id], t.inflight.sessions[id])
}

// key returns the latest unwritten stamp of an API key (zero if none).
func (t *touchLog) key(id string) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return latest(t.keys[id], t.inflight.keys[id])
}

// take moves the pending stamps in flight and returns them.
func (t *touchLog) take() (sessions, keys map[string]time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	sessions, keys = t.sessions, t.keys
	t.inflight.sessions, t.inflight.keys = sessions, keys
	t.sessions, t.keys = map[string]time.Time{}, map[string]time.Time{}
	return sessions, keys
}

// done ends a flush: stamps written leave memory, the others (failed) become pending again unless newer
// ones arrived meanwhile.
func (t *touchLog) done(failedSessions, failedKeys map[string]time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.inflight.sessions, t.inflight.keys = nil, nil
	for id, at := range failedSessions {
		if at.After(t.sessions[id]) {
			t.sessions[id] = at
		}
	}
	for id, at := range failedKeys {
		if at.After(t.keys[id]) {
			t.keys[id] = at
		}
	}
}

func latest(ts ...time.Time) time.Time {
	var l time.Time
	for _, t := range ts {
		if t.After(l) {
			l = t
		}
	}
	return l
}

// lastSeen is the session's last use as far as this process knows.
func (s *Service) lastSeen(sess *model.Session) time.Time {
	return latest(sess.LastSeenAt, s.touches.session(sess.ID))
}

// flushChunk bounds the ids per statement (bind parameters: four per id).
const flushChunk = 500

// FlushLastSeen writes the pending last-seen and last-used stamps: one UPDATE per table (per 500
// credentials), which never moves a stamp backwards (another replica may have written a later one).
// Stamps that fail to be written are kept for the next flush.
func (s *Service) FlushLastSeen(ctx context.Context) error {
	sessions, keys := s.touches.take()
	var err error
	if e := s.flushStamps(ctx, "sessions", "last_seen_at", sessions); e != nil {
		err = e
	} else {
		sessions = nil
	}
	if e := s.flushStamps(ctx, "api_keys", "last_used_at", keys); e != nil {
		err = e
	} else {
		keys = nil
	}
	s.touches.done(sessions, keys)
	return err
}

func (s *Service) flushStamps(ctx context.Context, table, column string, stamps map[string]time.Time) error {
	if len(stamps) == 0 {
		return nil
	}
	ids := make([]string, 0, len(stamps))
	for id := range stamps {
		ids = append(ids, id)
	}
	param := "?"
	if store.Dialect(s.db) == store.Postgres {
		param = "CAST(? AS timestamptz)"
	}
	for len(ids) > 0 {
		n := min(len(ids), flushChunk)
		chunk := ids[:n]
		ids = ids[n:]
		var cases strings.Builder
		args := make([]any, 0, 4*n+n)
		cases.WriteString("CASE id")
		for _, id := range chunk {
			cases.WriteString(" WHEN ? THEN " + param)
			args = append(args, id, stamps[id])
		}
		cases.WriteString(" END")
		newValue := cases.String()
		all := append(append([]any{}, args...), args...)
		in := strings.TrimSuffix(strings.Repeat("?,", n), ",")
		for _, id := range chunk {
			all = append(all, id)
		}
		q := fmt.Sprintf("UPDATE %s SET %s = CASE WHEN %s IS NULL OR %s < (%s) THEN (%s) ELSE %s END WHERE id IN (%s)",
			table, column, column, column, newValue, newValue, column, in)
		if err := s.db.WithContext(ctx).Exec(q, all...).Error; err != nil {
			return fmt.Errorf("write %s.%s: %w", table, column, err)
		}
	}
	return nil
}

// RunLastSeenFlusher writes the pending stamps every interval until ctx ends, and once more then.
func (s *Service) RunLastSeenFlusher(ctx context.Context, interval time.Duration, log zerolog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := s.FlushLastSeen(fctx); err != nil {
				log.Error().Err(err).Msg("writing last-seen stamps at shutdown failed")
			}
			cancel()
			return
		case <-t.C:
			if err := s.FlushLastSeen(ctx); err != nil {
				log.Error().Err(err).Msg("writing last-seen stamps failed; kept for the next interval")
			}
		}
	}
}

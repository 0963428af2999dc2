package store

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
)

// The change bus tells every replica that an identity changed (a session revoked, a user locked, an API
// key revoked, …), so each can drop what it cached about it. A writer publishes inside its transaction:
// on PostgreSQL a NOTIFY, which the server delivers to every listening replica at commit (and not at
// all on rollback); in this process the subscribers also hear it right after the commit, so the next
// request here never sees the old state. On SQLite the bus is in-process only (one process owns the
// file).
//
// A replica may trust what it cached only while it is sure to hear every change: on PostgreSQL while
// its listener connection is up and has heard its own heartbeat recently (see Listener). Otherwise
// Trusted is false and the caches read the database on every request.

// ChangeChannel is the PostgreSQL notification channel of the bus.
const ChangeChannel = "behalf_changes"

// Keys name what changed. A subscriber drops every cached entry that depends on one of them.
const (
	// FlushAll asks subscribers to drop everything (sent after a listener reconnects).
	FlushAll = "*"
)

// SessionKey names a session (and, for a cache, every login-on-behalf session opened from it).
func SessionKey(id string) string { return "s:" + id }

// UserKey names a user: their roles, lock, consent, password, and every session they hold or operate.
func UserKey(id string) string { return "u:" + id }

// APIKeyKey names an API key.
func APIKeyKey(id string) string { return "k:" + id }

// maxPayload keeps a notification under PostgreSQL's 8000-byte payload limit.
const maxPayload = 7000

// Bus delivers change keys to the subscribers of this process and, on PostgreSQL, to other replicas
// through NOTIFY. Install one per database handle with InstallBus; it is a GORM plugin, so domain code
// finds it from the handle it already has (Publish).
type Bus struct {
	dialect string

	mu   sync.RWMutex
	subs []func(keys []string)

	// listening is set while a Listener runs for this bus (PostgreSQL); lastHeard is when it last
	// received anything (monotonic nanoseconds since start), up marks its connection as established
	// and caught up. Without a listener, a PostgreSQL bus is never trusted.
	listening atomic.Bool
	up        atomic.Bool
	lastHeard atomic.Int64
	staleness atomic.Int64 // how long without news before trust ends (nanoseconds)
	start     time.Time

	published atomic.Int64
}

// Name implements gorm.Plugin.
func (b *Bus) Name() string { return "behalf:changebus" }

// Initialize implements gorm.Plugin.
func (b *Bus) Initialize(*gorm.DB) error { return nil }

// InstallBus returns db's bus, installing one first if it has none.
func InstallBus(db *gorm.DB) (*Bus, error) {
	if b := BusOf(db); b != nil {
		return b, nil
	}
	b := &Bus{dialect: Dialect(db), start: time.Now()}
	if err := db.Use(b); err != nil {
		return nil, fmt.Errorf("install change bus: %w", err)
	}
	return b, nil
}

// BusOf returns the bus installed on db, or nil.
func BusOf(db *gorm.DB) *Bus {
	if db == nil || db.Config == nil {
		return nil
	}
	b, _ := db.Config.Plugins[(&Bus{}).Name()].(*Bus)
	return b
}

// Subscribe registers fn to hear every change published (here or, through a listener, on other
// replicas). fn runs on the publisher's or the listener's goroutine and must be quick.
func (b *Bus) Subscribe(fn func(keys []string)) {
	b.mu.Lock()
	b.subs = append(b.subs, fn)
	b.mu.Unlock()
}

// deliver hands keys to every subscriber.
func (b *Bus) deliver(keys []string) {
	b.mu.RLock()
	subs := b.subs
	b.mu.RUnlock()
	for _, fn := range subs {
		fn(keys)
	}
}

// Trusted reports whether caches may answer from memory: always on SQLite; on PostgreSQL only while a
// listener is connected, has flushed the caches since it (re)connected, and heard from the server
// recently.
func (b *Bus) Trusted() bool {
	if b == nil {
		return false
	}
	if b.dialect != Postgres {
		return true
	}
	if !b.up.Load() {
		return false
	}
	return time.Since(b.start).Nanoseconds()-b.lastHeard.Load() <= b.staleness.Load()
}

// Published returns how many changes this process has published (for tests and metrics).
func (b *Bus) Published() int64 { return b.published.Load() }

// Publish announces that the identities named by keys changed. Inside a transaction (RunInTx) the
// announcement is part of it: other replicas hear it at commit, this process right after the commit,
// and nobody if it rolls back. Outside one it is delivered at once. Without a bus installed on db it
// does nothing.
func Publish(ctx context.Context, db *gorm.DB, keys ...string) error {
	b := BusOf(db)
	if b == nil || len(keys) == 0 {
		return nil
	}
	b.published.Add(1)
	if b.dialect == Postgres {
		for _, payload := range payloads(keys) {
			if err := Conn(ctx, db).Exec("SELECT pg_notify(?, ?)", ChangeChannel, payload).Error; err != nil {
				return fmt.Errorf("publish change: %w", err)
			}
		}
	}
	ks := append([]string(nil), keys...)
	if !AfterCommit(ctx, func() { b.deliver(ks) }) {
		b.deliver(ks)
	}
	return nil
}

// payloads joins keys with spaces into notifications under PostgreSQL's size limit.
func payloads(keys []string) []string {
	var out []string
	var sb strings.Builder
	for _, k := range keys {
		if sb.Len() > 0 && sb.Len()+1+len(k) > maxPayload {
			out = append(out, sb.String())
			sb.Reset()
		}
		if sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(k)
	}
	if sb.Len() > 0 {
		out = append(out, sb.String())
	}
	return out
}

// AfterCommit registers fn to run after the transaction in ctx commits, and reports whether there was
// one (false: ctx carries no open transaction, fn was not registered).
func AfterCommit(ctx context.Context, fn func()) bool {
	tx, ok := ctx.Value(txKey{}).(*Tx)
	if !ok || tx == nil { // nil: store.Outside hid the transaction
		return false
	}
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.done {
		return false
	}
	tx.afterCommit = append(tx.afterCommit, fn)
	return true
}

// DSN returns the connection string db was opened with on PostgreSQL (for a listener's own
// connection), or "" on SQLite.
func DSN(db *gorm.DB) string {
	if d, ok := db.Dialector.(*postgres.Dialector); ok && d.Config != nil {
		return d.Config.DSN
	}
	return ""
}

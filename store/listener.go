package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rs/zerolog"
)

// ListenOptions tune a change listener. Zero values pick the defaults.
type ListenOptions struct {
	// Heartbeat is how often the listener sends itself a notification through the server when it hears
	// nothing else (default 1 s); a replica that heard nothing for two heartbeats stops trusting its
	// caches until it hears again (and then flushes them).
	Heartbeat time.Duration
	// ApplicationName is the listener connection's application_name, so operators (and tests) can find
	// it in pg_stat_activity. Default "behalf-listener <host> <pid>".
	ApplicationName string
	Log             zerolog.Logger
}

// ListenerApplicationName is the default application_name prefix of listener connections.
const ListenerApplicationName = "behalf-listener"

// Listen keeps a dedicated connection (not from the pool: LISTEN needs one session, which a
// transaction-mode pooler such as PgBouncer does not give) LISTENing on ChangeChannel and delivers what
// it hears to the bus, until ctx ends. While the connection is down, being re-established, or silent
// for longer than two heartbeats, Trusted is false; each time it is (re)established the subscribers
// are told to flush everything before trust returns, since changes published meanwhile were missed. It
// does nothing on SQLite.
func (b *Bus) Listen(ctx context.Context, dsn string, opt ListenOptions) {
	if b == nil || b.dialect != Postgres {
		return
	}
	if opt.Heartbeat <= 0 {
		opt.Heartbeat = time.Second
	}
	if opt.ApplicationName == "" {
		host, _ := os.Hostname()
		opt.ApplicationName = fmt.Sprintf("%s %s %d", ListenerApplicationName, host, os.Getpid())
	}
	b.staleness.Store(int64(2 * opt.Heartbeat))
	b.listening.Store(true)
	defer b.listening.Store(false)
	backoff := 20 * time.Millisecond
	for ctx.Err() == nil {
		t0 := time.Now()
		err := b.listenOnce(ctx, dsn, opt)
		wasUp := b.up.Swap(false)
		if ctx.Err() != nil {
			return
		}
		if wasUp {
			opt.Log.Warn().Err(err).Msg("change listener lost: reading identities from the database until it reconnects")
		} else {
			opt.Log.Warn().Err(err).Dur("retry_in", backoff).Msg("change listener cannot connect")
		}
		if time.Since(t0) > 30*time.Second {
			backoff = 20 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// heard records that the listener received something; after a silence long enough to have ended
// trust, the subscribers flush first (what they cached meanwhile may have missed a late change).
func (b *Bus) heard() {
	now := time.Since(b.start).Nanoseconds()
	if now-b.lastHeard.Load() > b.staleness.Load() {
		b.deliver([]string{FlushAll})
	}
	b.lastHeard.Store(now)
}

func (b *Bus) listenOnce(ctx context.Context, dsn string, opt ListenOptions) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("parse DSN: %w", err)
	}
	cfg.RuntimeParams["application_name"] = opt.ApplicationName
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+ChangeChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// From here on every commit is heard; what was cached before may be stale.
	b.deliver([]string{FlushAll})
	b.lastHeard.Store(time.Since(b.start).Nanoseconds())
	b.up.Store(true)
	opt.Log.Info().Uint32("backend_pid", conn.PgConn().PID()).Msg("change listener connected: identity cache flushed and trusted")

	token := make([]byte, 8)
	_, _ = rand.Read(token)
	ping := "ping:" + hex.EncodeToString(token)
	lastPing := time.Now()
	for {
		wctx, cancel := context.WithTimeout(ctx, opt.Heartbeat)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			b.heard()
			if !strings.HasPrefix(n.Payload, "ping:") {
				b.deliver(strings.Fields(n.Payload))
			}
		case ctx.Err() != nil:
			return ctx.Err()
		case pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded):
			// Silence: fall through to the heartbeat.
		default:
			return fmt.Errorf("wait for notification: %w", err)
		}
		if time.Since(lastPing) >= opt.Heartbeat {
			lastPing = time.Now()
			if _, err := conn.Exec(ctx, "SELECT pg_notify($1, $2)", ChangeChannel, ping); err != nil {
				return fmt.Errorf("heartbeat: %w", err)
			}
		}
	}
}

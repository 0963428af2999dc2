// Package store opens the database (PostgreSQL or embedded SQLite), applies the versioned migrations,
// and carries the current transaction in the context so that a mutation and its audit event commit
// or roll back together.
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/rs/zerolog"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

//go:embed migrations
var migrations embed.FS

// Dialect names.
const (
	Postgres = "postgres"
	SQLite   = "sqlite"
)

// Options tune the connection pool and logging. Zero values pick sensible defaults.
type Options struct {
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
	Logger          logger.Interface
	NowFunc         func() time.Time
	// AcquireTimeout bounds the wait for a pool connection (0: as long as the context allows).
	AcquireTimeout time.Duration
	// StatementTimeout is PostgreSQL's statement_timeout for every connection (0: the server's).
	StatementTimeout time.Duration
}

// ParseDSN splits a DSN into dialect and driver DSN: `postgres://…` (or `postgresql://…`) selects
// PostgreSQL, `sqlite:PATH` the embedded SQLite database at PATH.
func ParseDSN(dsn string) (dialect, driverDSN string, err error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return Postgres, dsn, nil
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		path = strings.TrimPrefix(path, "//")
		if path == "" {
			return "", "", errors.New("sqlite DSN needs a path, e.g. sqlite:behalf.db")
		}
		return SQLite, path, nil
	default:
		return "", "", fmt.Errorf("unsupported DSN %q: use postgres://… or sqlite:PATH", redactDSN(dsn))
	}
}

// sqliteURIPath escapes the characters that end or change the path of a SQLite "file:" URI ('%', '?'
// and '#'), so that a database file whose path holds them (a subtest's temp dir "sqlite#01", a
// folder named "a#b") opens that file rather than a truncated name.
var sqliteURIPath = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace

func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "@"); i > 0 {
		if j := strings.Index(dsn, "://"); j >= 0 && j < i {
			return dsn[:j+3] + "…@" + dsn[i+1:]
		}
	}
	return dsn
}

// Open connects to the database named by dsn.
func Open(dsn string, opt Options) (*gorm.DB, error) {
	dialect, driverDSN, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	cfg := &gorm.Config{
		Logger:                 opt.Logger,
		NowFunc:                opt.NowFunc,
		SkipDefaultTransaction: true,
		TranslateError:         true,
	}
	if cfg.Logger == nil {
		cfg.Logger = logger.Discard
	}
	if cfg.NowFunc == nil {
		cfg.NowFunc = func() time.Time { return time.Now().UTC() }
	}
	var db *gorm.DB
	switch dialect {
	case Postgres:
		// Generic plans cached by pgx's prepared statements can be orders of magnitude slower for
		// full-text search (the planner cannot see the tsquery); force custom plans.
		d := driverDSN
		if !strings.Contains(d, "plan_cache_mode") {
			sep := "?"
			if strings.Contains(d, "?") {
				sep = "&"
			}
			d += sep + "plan_cache_mode=force_custom_plan"
		}
		if opt.StatementTimeout > 0 && !strings.Contains(d, "statement_timeout") {
			sep := "?"
			if strings.Contains(d, "?") {
				sep = "&"
			}
			d += fmt.Sprintf("%sstatement_timeout=%d", sep, opt.StatementTimeout.Milliseconds())
		}
		db, err = gorm.Open(postgres.Open(d), cfg)
	case SQLite:
		if dir := filepath.Dir(driverDSN); dir != "." {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("create sqlite directory: %w", err)
			}
		}
		// WAL lets readers run beside the writer; immediate transactions take the write lock up front so
		// concurrent read-then-write transactions queue on busy_timeout instead of failing.
		q := "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		db, err = gorm.Open(sqlite.Open("file:"+sqliteURIPath(driverDSN)+q), cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	if err := registerStamping(db); err != nil {
		return nil, fmt.Errorf("register stamping: %w", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	maxOpen := opt.MaxOpenConns
	if maxOpen <= 0 {
		maxOpen = 20
		if dialect == SQLite {
			maxOpen = 8
		}
	}
	maxIdle := opt.MaxIdleConns
	if maxIdle <= 0 {
		maxIdle = maxOpen
	}
	sqlDB.SetMaxOpenConns(maxOpen)
	sqlDB.SetMaxIdleConns(maxIdle)
	if opt.ConnMaxLifetime > 0 {
		sqlDB.SetConnMaxLifetime(opt.ConnMaxLifetime)
	}
	if opt.AcquireTimeout > 0 {
		pool := &acquirePool{db: sqlDB, timeout: opt.AcquireTimeout}
		db.ConnPool = pool
		db.Statement.ConnPool = pool
	}
	return db, nil
}

// Dialect reports which database db talks to.
func Dialect(db *gorm.DB) string {
	if db.Dialector.Name() == "postgres" {
		return Postgres
	}
	return SQLite
}

// Migrate applies every pending migration for db's dialect; running it again is a no-op. On PostgreSQL
// it holds goose's session-level advisory lock while it runs, so replicas starting together on one
// database migrate once: the others wait for the lock, then find nothing pending.
func Migrate(db *gorm.DB) error {
	p, err := provider(db)
	if err != nil {
		return err
	}
	if _, err := p.Up(context.Background()); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// provider returns a goose Provider for db's dialect (no package globals, so concurrent callers in one
// process are safe too).
func provider(db *gorm.DB) (*goose.Provider, error) {
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	dialect := Dialect(db)
	sub, err := fs.Sub(migrations, "migrations/"+dialect)
	if err != nil {
		return nil, err
	}
	gd := goose.DialectSQLite3
	var opts []goose.ProviderOption
	if dialect == Postgres {
		gd = goose.DialectPostgres
		// Retry the lock every second (goose's default is every 5 s) for up to five minutes.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	return goose.NewProvider(gd, sqlDB, sub, opts...)
}

// Version returns the current migration version.
func Version(db *gorm.DB) (int64, error) {
	p, err := provider(db)
	if err != nil {
		return 0, err
	}
	return p.GetDBVersion(context.Background())
}

// Ping checks that the database answers, for readiness probes.
func Ping(ctx context.Context, db *gorm.DB) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

type txKey struct{}

// Tx is the transaction a mutation runs in. It begins lazily, on the first statement that asks for it
// through Conn, so that work before that (reading a user, then hashing a password) holds no
// connection. Done is set once it committed or rolled back, after which Conn falls back to the base
// handle (field resolvers run after the mutation's directive finished).
type Tx struct {
	base        *gorm.DB
	ctx         context.Context
	mu          sync.Mutex
	db          *gorm.DB // the begun transaction; nil until the first statement
	began       error
	done        bool
	afterCommit []func()
}

// WithTx returns a context carrying tx.
func WithTx(ctx context.Context, tx *Tx) context.Context { return context.WithValue(ctx, txKey{}, tx) }

// NewTx returns a transaction on base that has begun already (for callers holding a *gorm.DB
// transaction of their own).
func NewTx(g *gorm.DB) *Tx { return &Tx{base: g, db: g} }

// conn begins the transaction if needed and returns it, or nil once it is done.
func (tx *Tx) conn() (*gorm.DB, error) {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.done {
		return nil, nil
	}
	if tx.db == nil && tx.began == nil {
		g := tx.base.WithContext(tx.ctx).Begin()
		if g.Error != nil {
			tx.began = fmt.Errorf("begin transaction: %w", g.Error)
		} else {
			tx.db = g
		}
	}
	return tx.db, tx.began
}

// Conn returns the transaction in ctx if one is open (beginning it on first use), else base; always
// bound to ctx.
func Conn(ctx context.Context, base *gorm.DB) *gorm.DB {
	if tx, ok := ctx.Value(txKey{}).(*Tx); ok && tx != nil {
		g, err := tx.conn()
		if err != nil {
			bad := base.WithContext(ctx)
			_ = bad.AddError(err)
			return bad
		}
		if g != nil {
			return g.WithContext(ctx)
		}
	}
	return base.WithContext(ctx)
}

// Outside returns ctx without its transaction: statements through Conn(Outside(ctx), …) run on the
// base handle and do not begin the transaction (reads before a password hash use it).
func Outside(ctx context.Context) context.Context {
	if _, ok := ctx.Value(txKey{}).(*Tx); !ok {
		return ctx
	}
	return context.WithValue(ctx, txKey{}, (*Tx)(nil))
}

// InTx reports whether ctx carries an open (possibly not yet begun) transaction.
func InTx(ctx context.Context) bool {
	tx, ok := ctx.Value(txKey{}).(*Tx)
	if !ok || tx == nil {
		return false
	}
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return !tx.done
}

// TxBegun reports whether ctx carries a transaction that holds a connection now.
func TxBegun(ctx context.Context) bool {
	tx, ok := ctx.Value(txKey{}).(*Tx)
	if !ok || tx == nil {
		return false
	}
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return !tx.done && tx.db != nil
}

// RunInTx runs fn in a transaction carried by the context passed to fn; the transaction begins on
// fn's first statement, commits if fn returns nil and rolls back otherwise (or on a panic). If ctx
// already carries an open transaction, fn joins it (the outer owner decides commit or rollback).
func RunInTx(ctx context.Context, base *gorm.DB, fn func(ctx context.Context) error) (err error) {
	if InTx(ctx) {
		return fn(ctx)
	}
	tx := &Tx{base: base, ctx: ctx}
	defer func() {
		tx.mu.Lock()
		g := tx.db
		tx.done = true
		after := tx.afterCommit
		tx.mu.Unlock()
		if p := recover(); p != nil {
			if g != nil {
				g.Rollback()
			}
			panic(p)
		}
		if err != nil {
			if g != nil {
				g.Rollback()
			}
			return
		}
		if g != nil {
			if cerr := g.Commit().Error; cerr != nil {
				err = fmt.Errorf("commit: %w", cerr)
				return
			}
		}
		for _, f := range after {
			f()
		}
	}()
	return fn(WithTx(ctx, tx))
}

// SQLite extended result codes of unique violations (https://sqlite.org/rescode.html).
const (
	sqliteConstraintPrimaryKey = 1555 // SQLITE_CONSTRAINT_PRIMARYKEY
	sqliteConstraintUnique     = 2067 // SQLITE_CONSTRAINT_UNIQUE
)

// IsUniqueViolation reports whether err is a unique-constraint violation on either dialect, by code,
// never by message text: gorm's translated ErrDuplicatedKey, PostgreSQL's SQLSTATE 23505
// (unique_violation), or SQLite's SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY result code.
func IsUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return true
	}
	var pg interface{ SQLState() string }
	if errors.As(err, &pg) {
		return pg.SQLState() == "23505"
	}
	var lite interface{ Code() int }
	if errors.As(err, &lite) {
		return lite.Code() == sqliteConstraintUnique || lite.Code() == sqliteConstraintPrimaryKey
	}
	return false
}

type hooksKey struct{}

// Hooks collects work that must persist even when the mutation's transaction rolls back (counting a
// failed login toward its throttle, for example).
type Hooks struct {
	mu  sync.Mutex
	fns []func(ctx context.Context) error
}

// WithHooks returns a context collecting after-rollback hooks into h.
func WithHooks(ctx context.Context, h *Hooks) context.Context {
	return context.WithValue(ctx, hooksKey{}, h)
}

// AfterRollback registers fn to run if the surrounding mutation fails, after its transaction rolled
// back. Outside a mutation (no hooks in ctx) fn runs at once.
func AfterRollback(ctx context.Context, fn func(ctx context.Context) error) {
	if h, ok := ctx.Value(hooksKey{}).(*Hooks); ok {
		h.mu.Lock()
		h.fns = append(h.fns, fn)
		h.mu.Unlock()
		return
	}
	if err := fn(ctx); err != nil {
		zerolog.Ctx(ctx).Error().Err(err).Msg("failure-path write lost")
		CountLostBookkeeping()
	}
}

// Run runs the collected hooks in order, returning the first error.
func (h *Hooks) Run(ctx context.Context) error {
	h.mu.Lock()
	fns := h.fns
	h.fns = nil
	h.mu.Unlock()
	var first error
	for _, fn := range fns {
		if err := fn(ctx); err != nil && first == nil {
			first = err
		}
	}
	return first
}

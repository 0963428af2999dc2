// Package dbtest gives tests fresh, fully migrated, empty databases on both dialects the product
// supports, so that every database test runs on SQLite and on PostgreSQL:
//
//	func TestSomething(t *testing.T) {
//		dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
//			// db is a private database of this subtest, dropped when it ends.
//		})
//	}
//
// SQLite databases are files in t.TempDir(), copied from a template file migrated once per test
// process. PostgreSQL databases are created with CREATE DATABASE … TEMPLATE from a template database
// migrated once per test process, on the server named by BEHALF_TEST_POSTGRES_URL (an admin URL such
// as postgres://postgres@127.0.0.1:5433/postgres?sslmode=disable; scripts/test.sh starts a throwaway
// server and sets it). Without that variable the PostgreSQL runs are skipped, except when CI is set
// (CI=true), where a skipped PostgreSQL run would hide failures, so the test fails instead.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"behalf/store"

	"gorm.io/gorm"
)

// EnvPostgresURL names the environment variable holding the admin URL of the PostgreSQL server that
// test databases are created on.
const EnvPostgresURL = "BEHALF_TEST_POSTGRES_URL"

// Each runs fn twice as subtests "sqlite" and "postgres", each with a fresh, fully migrated, empty
// database that is closed and deleted when the subtest ends. The "postgres" subtest is skipped (or
// fails under CI=true) when BEHALF_TEST_POSTGRES_URL is not set.
func Each(t *testing.T, fn func(t *testing.T, db *gorm.DB)) {
	t.Helper()
	for _, dialect := range []string{store.SQLite, store.Postgres} {
		t.Run(dialect, func(t *testing.T) {
			fn(t, Open(t, dialect))
		})
	}
}

// SQLite opens a fresh, migrated, empty SQLite database, closed and deleted when t ends.
func SQLite(t testing.TB) *gorm.DB {
	t.Helper()
	return Open(t, store.SQLite)
}

// Postgres opens a fresh, migrated, empty PostgreSQL database, closed and dropped when t ends. It skips
// t when BEHALF_TEST_POSTGRES_URL is not set, or fails it if CI is set.
func Postgres(t testing.TB) *gorm.DB {
	t.Helper()
	return Open(t, store.Postgres)
}

// Open returns a fresh, migrated, empty database for the given dialect name ("sqlite" or "postgres"),
// opened with store.Open and closed and deleted when t ends.
func Open(t testing.TB, dialect string) *gorm.DB {
	t.Helper()
	dsn := FreshDSN(t, dialect)
	db, err := store.Open(dsn, store.Options{})
	if err != nil {
		t.Fatalf("dbtest: open %s test database: %v", dialect, err)
	}
	// Registered after FreshDSN's cleanup, so it runs first: the pool is closed before the drop.
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			_ = sqlDB.Close()
		}
	})
	return db
}

// FreshDSN creates a fresh, migrated, empty database for the given dialect ("sqlite" or "postgres")
// and returns its DSN for store.Open, for code that must open its own handle (e.g. a CLI test). The
// database is deleted when t ends (a PostgreSQL database is dropped even if connections remain).
func FreshDSN(t testing.TB, dialect string) string {
	t.Helper()
	switch dialect {
	case store.SQLite:
		return freshSQLite(t)
	case store.Postgres:
		return freshPostgres(t)
	default:
		t.Fatalf("dbtest: unknown dialect %q (want %q or %q)", dialect, store.SQLite, store.Postgres)
		return ""
	}
}

// ---- SQLite ----

var sqliteTemplate struct {
	once sync.Once
	data []byte // the migrated database file, checkpointed (no WAL needed)
	err  error
}

// freshSQLite writes a copy of the migrated template file into t.TempDir().
func freshSQLite(t testing.TB) string {
	t.Helper()
	sqliteTemplate.once.Do(func() { sqliteTemplate.data, sqliteTemplate.err = buildSQLiteTemplate() })
	if sqliteTemplate.err != nil {
		t.Fatalf("dbtest: migrate sqlite template: %v", sqliteTemplate.err)
	}
	path := filepath.Join(t.TempDir(), "test.db")
	if err := os.WriteFile(path, sqliteTemplate.data, 0o600); err != nil {
		t.Fatalf("dbtest: write sqlite test database: %v", err)
	}
	return "sqlite:" + path
}

// buildSQLiteTemplate migrates a database in a temporary directory and returns the bytes of its file.
// The WAL is checkpointed and the database closed first, so the main file holds everything.
func buildSQLiteTemplate() ([]byte, error) {
	dir, err := os.MkdirTemp("", "behalf-dbtest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "template.db")
	db, err := store.Open("sqlite:"+path, store.Options{MaxOpenConns: 1})
	if err != nil {
		return nil, err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	err = store.Migrate(db)
	if err == nil {
		err = db.Exec("PRAGMA wal_checkpoint(TRUNCATE)").Error
	}
	if cerr := sqlDB.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		return nil, errors.New("sqlite template still has a non-empty WAL after checkpoint and close")
	}
	return os.ReadFile(path)
}

// ---- PostgreSQL ----

// Databases created by a test process are named tmpl_<tag> (its template) and t_<tag>_<n>, where tag
// is <pid>_<random>; every admin connection of the process carries application_name dbtest_<tag>.
// That lets a later process drop what a crashed one left behind on a long-lived server.
var (
	pgNameRE = regexp.MustCompile(`^(?:tmpl|t)_([0-9]+_[0-9a-f]{8})(?:_[0-9]+)?$`)
	pgSeq    atomic.Int64
	pgState  struct {
		once     sync.Once
		err      error
		admin    *gorm.DB  // admin connection pool, kept open for the life of the process
		pin      *sql.Conn // one admin connection held for the life of the process (see sweepPostgres)
		adminURL *url.URL
		tag      string
		template string
		strategy string // " STRATEGY FILE_COPY" where supported (PostgreSQL 15+)
	}
)

// ciMode reports whether the tests run in CI, where PostgreSQL must not be skipped.
func ciMode() bool {
	v := strings.ToLower(strings.TrimSpace(os.Getenv("CI")))
	return v != "" && v != "false" && v != "0" && v != "no"
}

func freshPostgres(t testing.TB) string {
	t.Helper()
	raw := os.Getenv(EnvPostgresURL)
	if raw == "" {
		if ciMode() {
			t.Fatalf("dbtest: %s is not set and CI is set: PostgreSQL tests must not be skipped in CI; run them with `bash scripts/test.sh`", EnvPostgresURL)
		}
		t.Skipf("dbtest: skipping PostgreSQL: %s is not set (run `bash scripts/test.sh` to test on a throwaway PostgreSQL server)", EnvPostgresURL)
	}
	pgState.once.Do(func() { pgState.err = setupPostgres(raw) })
	if pgState.err != nil {
		t.Fatalf("dbtest: prepare PostgreSQL template database: %v", pgState.err)
	}
	return createPostgres(t, fmt.Sprintf(" TEMPLATE %s%s", quoteIdent(pgState.template), pgState.strategy))
}

// EmptyPostgresDSN creates an empty PostgreSQL database (not migrated: for tests of migration itself,
// such as several replicas starting together) and returns its DSN; it is dropped when t ends. Skipped
// or failed like Postgres when BEHALF_TEST_POSTGRES_URL is not set.
func EmptyPostgresDSN(t testing.TB) string {
	t.Helper()
	freshPostgres(t) // sets up the server state (and skips without a server); the extra database is cheap
	return createPostgres(t, "")
}

// AdminPostgres returns the admin connection pool of the PostgreSQL test server (for tests that inspect
// the server: pg_stat_activity, pg_terminate_backend, pg_stat_statements). Call it after a Postgres,
// FreshDSN or EmptyPostgresDSN call.
func AdminPostgres(t testing.TB) *gorm.DB {
	t.Helper()
	if pgState.admin == nil {
		t.Fatal("dbtest: AdminPostgres called before a PostgreSQL database was created")
	}
	return pgState.admin
}

// createPostgres creates a test database with the given CREATE DATABASE options, dropped when t ends.
func createPostgres(t testing.TB, options string) string {
	t.Helper()
	name := fmt.Sprintf("t_%s_%d", pgState.tag, pgSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := pgState.admin.WithContext(ctx).Exec(fmt.Sprintf("CREATE DATABASE %s%s", quoteIdent(name), options)).Error; err != nil {
		t.Fatalf("dbtest: create PostgreSQL test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// DROP DATABASE polls for remaining backends in 100 ms steps, even WITH (FORCE); the backends of
		// the connections just closed exit within a millisecond or two, so wait for them cheaply first.
		for range 100 {
			var n int
			if err := pgState.admin.WithContext(ctx).Raw("SELECT count(*) FROM pg_stat_activity WHERE datname = ?", name).Scan(&n).Error; err != nil || n == 0 {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		if err := pgState.admin.WithContext(ctx).Exec(fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", quoteIdent(name))).Error; err != nil {
			t.Errorf("dbtest: drop PostgreSQL test database %s: %v", name, err)
		}
	})
	return dbURL(pgState.adminURL, name)
}

// setupPostgres connects the admin pool, drops databases left by dead test processes, and creates and
// migrates this process's template database.
func setupPostgres(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return fmt.Errorf("%s must be a postgres:// URL", EnvPostgresURL)
	}
	tag := fmt.Sprintf("%d_%s", os.Getpid(), randomHex(4))
	adminURL := *u
	q := adminURL.Query()
	q.Set("application_name", "dbtest_"+tag)
	adminURL.RawQuery = q.Encode()
	admin, err := store.Open(adminURL.String(), store.Options{MaxOpenConns: 4, MaxIdleConns: 4})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Hold one admin connection for the life of the process: it marks this process's databases as in
	// use for the sweep of other processes.
	sqlAdmin, err := admin.DB()
	if err != nil {
		return err
	}
	pin, err := sqlAdmin.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", EnvPostgresURL, err)
	}
	sweepPostgres(ctx, admin)

	// PostgreSQL 15 made WAL_LOG the default strategy of CREATE DATABASE; for a small template on a
	// server without fsync, FILE_COPY is about twice as fast (8 ms instead of 15 ms on tmpfs).
	var version int
	if err := admin.WithContext(ctx).Raw("SELECT current_setting('server_version_num')::int").Scan(&version).Error; err != nil {
		return err
	}
	strategy := ""
	if version >= 150000 {
		strategy = " STRATEGY FILE_COPY"
	}

	template := "tmpl_" + tag
	if err := admin.WithContext(ctx).Exec("CREATE DATABASE " + quoteIdent(template)).Error; err != nil {
		return fmt.Errorf("create template database: %w", err)
	}
	tdb, err := store.Open(dbURL(u, template), store.Options{MaxOpenConns: 1})
	if err != nil {
		return err
	}
	err = store.Migrate(tdb)
	// CREATE DATABASE … TEMPLATE fails while the template has connections: close them all now.
	if sqlDB, derr := tdb.DB(); derr == nil {
		_ = sqlDB.Close()
	}
	if err != nil {
		return err
	}
	pgState.admin, pgState.pin, pgState.adminURL = admin, pin, u
	pgState.tag, pgState.template, pgState.strategy = tag, template, strategy
	return nil
}

// sweepPostgres drops the test and template databases (owned by the current user) of test processes
// that no longer have a connection, e.g. processes killed by a test timeout before their cleanups ran.
// It is best effort: errors are ignored.
func sweepPostgres(ctx context.Context, admin *gorm.DB) {
	var names []string
	if err := admin.WithContext(ctx).Raw(`SELECT datname FROM pg_database
		WHERE (datname LIKE 'tmpl\_%' OR datname LIKE 't\_%') AND datdba = (SELECT oid FROM pg_roles WHERE rolname = current_user)`).
		Scan(&names).Error; err != nil {
		return
	}
	var live []string
	if err := admin.WithContext(ctx).Raw(`SELECT DISTINCT application_name FROM pg_stat_activity WHERE application_name LIKE 'dbtest\_%'`).
		Scan(&live).Error; err != nil {
		return
	}
	alive := map[string]bool{}
	for _, a := range live {
		alive[strings.TrimPrefix(a, "dbtest_")] = true
	}
	for _, n := range names {
		m := pgNameRE.FindStringSubmatch(n)
		if m == nil || alive[m[1]] {
			continue
		}
		_ = admin.WithContext(ctx).Exec(fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", quoteIdent(n))).Error
	}
}

// dbURL returns u pointing at database name.
func dbURL(u *url.URL, name string) string {
	c := *u
	c.Path = "/" + name
	c.RawPath = ""
	return c.String()
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Must fails t when a test's own database statement failed, so that no assertion reads the zero value
// an error left behind. It returns res for chaining (res.RowsAffected).
func Must(t testing.TB, res *gorm.DB) *gorm.DB {
	t.Helper()
	if res.Error != nil {
		t.Fatalf("database: %v", res.Error)
	}
	return res
}

// Command behalf runs the behalf GraphQL server and its administrative subcommands.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"behalf/app"
	"behalf/audit"
	"behalf/config"
	"behalf/demo"
	"behalf/graph"
	"behalf/internal/clock"
	"behalf/model"
	"behalf/security"
	"behalf/servicetoken"
	"behalf/store"
	"behalf/telemetry"

	"github.com/rs/zerolog"
	"gorm.io/gorm"
)

const usage = `behalf — GraphQL backend for B2B storefronts with login on behalf

Usage:
  behalf                         same as "behalf serve"
  behalf serve [--addr HOST:PORT] [--db DSN] [--demo] [other settings]
  behalf migrate [--db DSN] [--app-role ROLE]
  behalf audit verify|export|checkpoint [--db DSN] …   (behalf audit for details)
  behalf user create --login L --email E --role R [--role R2] [--password-stdin] [--db DSN]
  behalf import contacts --file PATH.csv [--db DSN]
  behalf schema                  prints the GraphQL SDL (also served at GET /graphql/schema.graphql)
  behalf service-keys rotate [--db DSN]
  behalf hash-worker [--priority idle|low]   started by serve: computes password hashes at low priority

Run "behalf serve --help" for every setting and its BEHALF_* environment variable.
`

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, env func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(args, env, stdout, stderr)
	case "migrate":
		err = migrate(args, env, stdout, stderr)
	case "user":
		if len(args) == 0 || args[0] != "create" {
			fmt.Fprint(stderr, usage)
			return 2
		}
		err = userCreate(args[1:], env, stdin, stdout, stderr)
	case "import":
		if len(args) == 0 || args[0] != "contacts" {
			fmt.Fprint(stderr, usage)
			return 2
		}
		err = importContacts(args[1:], env, stdout, stderr)
	case "schema":
		if len(args) > 0 {
			fmt.Fprint(stderr, usage)
			return 2
		}
		fmt.Fprint(stdout, graph.SDL())
	case "service-keys":
		if len(args) == 0 || args[0] != "rotate" {
			fmt.Fprint(stderr, usage)
			return 2
		}
		err = rotateServiceKeys(args[1:], env, stdout, stderr)
	case "audit":
		return auditCmd(args, env, stdout, stderr)
	case "hash-worker":
		err = hashWorker(args, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "behalf: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "behalf %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

func newLogger(cfg config.Config, w io.Writer) zerolog.Logger {
	lvl, _ := zerolog.ParseLevel(cfg.LogLevel)
	if cfg.LogFormat == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}

func openDB(cfg config.Config, log zerolog.Logger) (*gorm.DB, error) {
	db, err := store.Open(cfg.DB, store.Options{
		MaxOpenConns: cfg.DBMaxOpenConns, MaxIdleConns: cfg.DBMaxIdleConns, ConnMaxLifetime: cfg.DBConnMaxLifetime,
		AcquireTimeout: cfg.DBAcquireTimeout, StatementTimeout: cfg.DBStatementTimeout,
		Logger: &store.Logger{Base: log, SlowThreshold: 500 * time.Millisecond},
	})
	if err != nil {
		return nil, err
	}
	if err := store.Migrate(db); err != nil {
		return nil, err
	}
	return db, nil
}

func serve(args []string, env func(string) string, stdout, stderr io.Writer) error {
	cfg, err := config.Load(args, env, stderr)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	defer tuneGC(env)()
	db, err := openDB(cfg, log)
	if err != nil {
		return err
	}
	var opts []app.Option
	if path := auditKeyPath(cfg); path != "" {
		// The embedded default (SQLite) generates its key on first start; a configured file must exist.
		key, err := audit.LoadKey(path, cfg.AuditKeyFile == "")
		if err != nil {
			return err
		}
		opts = append(opts, app.WithAuditKey(key))
	} else {
		log.Warn().Msg("no BEHALF_AUDIT_KEY_FILE: audit checkpoints are not signed")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	tp, stopTracing, err := telemetry.Setup(ctx, env, "dev")
	if err != nil {
		return err
	}
	defer func() {
		if err := stopTracing(context.Background()); err != nil {
			log.Warn().Err(err).Msg("flushing traces failed")
		}
	}()
	if tp != nil {
		opts = append(opts, app.WithTracerProvider(tp))
		log.Info().Msg("OpenTelemetry tracing on")
	}
	if exe, err := os.Executable(); err == nil {
		opts = append(opts, app.WithHashWorker(exe))
	} else {
		log.Warn().Err(err).Msg("no hash worker (own binary not found): passwords hash in process")
	}
	a := app.New(cfg, db, log, clock.Real{}, opts...)
	if err := a.Directory.EnsureSearchIndex(ctx); err != nil {
		return fmt.Errorf("contact search index: %w", err)
	}
	if n, err := a.Audit.Seal(ctx); err != nil {
		return err
	} else if n > 0 {
		log.Info().Int("events", n).Msg("chained audit events recorded before the hash chain")
	}
	tick, stopTick := a.Audit.CheckpointTicker()
	defer stopTick()
	go a.Audit.RunCheckpoints(log.WithContext(ctx), tick)
	// The embedded default database gets demo data; PostgreSQL only when --demo is given.
	if cfg.Demo || !cfg.DBExplicit {
		logins, err := demo.Load(ctx, db, a.Security, a.Directory, a.Commerce)
		if err != nil {
			return fmt.Errorf("demo data: %w", err)
		}
		printLogins(stdout, logins)
	}
	srv := &http.Server{
		Addr: cfg.Addr, Handler: a.Handler,
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute,
	}
	// Background work stops after the server did (so the last requests' stamps are written).
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	waitBackground := a.Background(bgCtx)
	defer func() {
		stopBackground()
		waitBackground()
	}()
	go a.Integrations.Run(ctx)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("metrics listener (BEHALF_METRICS_ADDR): %w", err)
		}
		defer serveMetrics(mln, a, log).Close()
	}
	log.Info().Str("addr", ln.Addr().String()).Str("graphiql", "/graphiql").Str("console", "/console/").Msg("behalf serving")
	printURLs(stdout, cfg)
	return runServer(ctx, srv, ln, cfg.ShutdownTimeout, log)
}

// serveMetrics serves GET /metrics on its own listener (BEHALF_METRICS_ADDR), apart from the API so it
// can stay off the public network.
func serveMetrics(ln net.Listener, a *app.App, log zerolog.Logger) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("/metrics", a.Metrics.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: time.Minute}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("metrics server stopped")
		}
	}()
	log.Info().Str("addr", ln.Addr().String()).Msg("metrics serving at /metrics")
	return srv
}

// runServer serves until ctx is done (SIGINT/SIGTERM), then stops accepting connections and lets
// in-flight requests finish within timeout.
func runServer(ctx context.Context, srv *http.Server, ln net.Listener, timeout time.Duration, log zerolog.Logger) error {
	// Every request's context derives from base, which is cancelled when the shutdown deadline passes:
	// a runaway query is then cancelled rather than waited for.
	base, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	srv.BaseContext = func(net.Listener) context.Context { return base }
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info().Msg("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		cancelBase()
		_ = srv.Close()
		log.Warn().Err(err).Dur("timeout", timeout).Msg("shutdown deadline passed: in-flight requests cancelled")
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info().Msg("stopped")
	return nil
}

// printURLs tells a newcomer where to click: the admin console, the storefront and GraphiQL.
func printURLs(w io.Writer, cfg config.Config) {
	base := cfg.PublicBaseURL()
	fmt.Fprintf(w, "Admin console: %s/console/   (sign in as support or admin)\n", base)
	fmt.Fprintf(w, "Storefront:    %s/storefront/   (sign in as a customer)\n", base)
	fmt.Fprintf(w, "GraphiQL:      %s/graphiql   schema: %s/graphql/schema.graphql\n", base, base)
}

func printLogins(w io.Writer, logins []demo.Login) {
	if len(logins) == 0 {
		return
	}
	fmt.Fprintln(w, "Demo data loaded. These logins are shown once; note them now:")
	for _, l := range logins {
		fmt.Fprintf(w, "  %-24s %-26s %s\n", l.Login, l.Role, l.Password)
	}
}

func dbFlags(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs, fs.String("db", "", "database DSN: postgres://… or sqlite:PATH (env DATABASE_URL, default "+config.DefaultDB+")")
}

func dbConfig(dsn string, env func(string) string) (config.Config, error) {
	var args []string
	if dsn != "" {
		args = []string{"--db", dsn}
	}
	return config.Load(args, env, io.Discard)
}

// openCommandDB is what every one-shot command that writes does first: the settings for --db, a
// logger on stderr, and the migrated database.
func openCommandDB(dsn string, env func(string) string, stderr io.Writer) (config.Config, zerolog.Logger, *gorm.DB, error) {
	cfg, err := dbConfig(dsn, env)
	if err != nil {
		return cfg, zerolog.Nop(), nil, err
	}
	log := newLogger(cfg, stderr)
	db, err := openDB(cfg, log)
	return cfg, log, db, err
}

func migrate(args []string, env func(string) string, stdout, stderr io.Writer) error {
	fs, dsn := dbFlags("behalf migrate", stderr)
	appRole := fs.String("app-role", "", "PostgreSQL role `behalf serve` runs as: granted exactly what it needs (audit tables INSERT and SELECT only)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	_, _, db, err := openCommandDB(*dsn, env, stderr)
	if err != nil {
		return err
	}
	ctx := context.Background()
	n, err := audit.New(db, clock.Real{}).Seal(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		fmt.Fprintf(stdout, "chained %d audit events recorded before the hash chain\n", n)
	}
	v, err := store.Version(db)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database migrated to version %d\n", v)
	if *appRole != "" {
		if err := store.GrantAppRole(ctx, db, *appRole); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "granted role %s what behalf serve needs\n", *appRole)
	}
	return nil
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, strings.Split(v, ",")...); return nil }

func userCreate(args []string, env func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs, dsn := dbFlags("behalf user create", stderr)
	login := fs.String("login", "", "sign-in name")
	email := fs.String("email", "", "email address")
	var roles multi
	fs.Var(&roles, "role", "role (repeatable): administrator, support, organization-maintainer, customer")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *login == "" || *email == "" || len(roles) == 0 {
		return errors.New("--login, --email and --role are required")
	}
	cfg, log, db, err := openCommandDB(*dsn, env, stderr)
	if err != nil {
		return err
	}
	var password string
	if *fromStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		password = strings.TrimRight(line, "\r\n")
	} else {
		password = security.NewToken("")[:24]
	}
	a := app.New(cfg, db, log, clock.Real{})
	u, err := a.Security.CreateUserUnchecked(context.Background(), security.CreateUserInput{
		Login: *login, Email: *email, Password: password, Roles: roles,
	})
	if err != nil {
		return err
	}
	if err := a.Audit.Record(context.Background(), &model.AuditEvent{
		Action: "user.create", ActorLogin: "cli", SubjectID: &u.ID, SubjectLogin: u.Login, Operation: "behalf user create",
	}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created user %s (%s) with roles %s\n", u.Login, u.ID, strings.Join(roles, ","))
	if !*fromStdin {
		fmt.Fprintf(stdout, "password (shown once): %s\n", password)
	}
	return nil
}

// rotateServiceKeys retires the service-token signing key now (it stays published until its tokens
// expire) and starts a new one, for example after a suspected leak.
func rotateServiceKeys(args []string, env func(string) string, stdout, stderr io.Writer) error {
	fs, dsn := dbFlags("behalf service-keys rotate", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, log, db, err := openCommandDB(*dsn, env, stderr)
	if err != nil {
		return err
	}
	k, err := app.New(cfg, db, log, clock.Real{}).ServiceTokens.Rotate(context.Background())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "service tokens are now signed with key %s; the previous key stays published for %s\n", k.ID, servicetoken.MaxTTL)
	return nil
}

// hashWorker is `behalf hash-worker [--priority idle|low]`, started by serve (not for people): it
// derives password keys read from stdin, answering on stdout, at the lowest CPU priority, until stdin
// ends (see security.HashWorker).
func hashWorker(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("hash-worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	priority := fs.String("priority", "idle", "idle (SCHED_IDLE) or low (nice 19)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return security.RunHashWorker(*priority)
}

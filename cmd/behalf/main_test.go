package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"behalf/internal/dbtest"
	"behalf/store"
)

func runCLI(t *testing.T, stdin string, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestMigrateTwiceAndUserCreate(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			// A brand-new embedded database is created and migrated from scratch.
			if dialect == "sqlite" {
				fresh := "sqlite:" + t.TempDir() + "/new/behalf.db"
				if code, out, errs := runCLI(t, "", nil, "migrate", "--db", fresh); code != 0 || !strings.Contains(out, "migrated to version") {
					t.Fatalf("migrate new db: %d %q %q", code, out, errs)
				}
			}
			dsn := dbtest.FreshDSN(t, dialect)
			code, out1, errs := runCLI(t, "", nil, "migrate", "--db", dsn)
			if code != 0 || !strings.Contains(out1, "migrated to version") {
				t.Fatalf("migrate: %d %q %q", code, out1, errs)
			}
			code, out2, _ := runCLI(t, "", map[string]string{"DATABASE_URL": dsn}, "migrate")
			if code != 0 || out1 != out2 {
				t.Fatalf("second migrate differs: %q vs %q", out1, out2)
			}

			code, out, errs := runCLI(t, "first admin password\n", nil, "user", "create", "--db", dsn,
				"--login", "boss", "--email", "boss@example.com", "--role", "administrator", "--password-stdin")
			if code != 0 || !strings.Contains(out, "created user boss") || strings.Contains(out, "first admin password") {
				t.Fatalf("user create: %d %q %q", code, out, errs)
			}
			// Without --password-stdin a password is generated and printed once.
			code, out, _ = runCLI(t, "", nil, "user", "create", "--db", dsn, "--login", "helper", "--email", "h@example.com", "--role", "support")
			if code != 0 || !strings.Contains(out, "password (shown once): ") {
				t.Fatalf("generated password: %d %q", code, out)
			}
			generated := strings.TrimSpace(out[strings.Index(out, "shown once): ")+len("shown once): "):])

			db, err := store.Open(dsn, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sqlDB, _ := db.DB(); sqlDB.Close() })
			a := newTestSecurity(db)
			for login, pw := range map[string]string{"boss": "first admin password", "helper": generated} {
				if _, _, err := a.CheckPassword(context.Background(), login, pw); err != nil {
					t.Errorf("%s cannot log in: %v", login, err)
				}
			}
			// Bad input: clear message, exit 1, nothing created.
			for _, args := range [][]string{
				{"user", "create", "--db", dsn, "--login", "boss", "--email", "other@example.com", "--role", "customer"},
				{"user", "create", "--db", dsn, "--login", "x y", "--email", "x@example.com", "--role", "customer"},
				{"user", "create", "--db", dsn, "--login", "king", "--email", "k@example.com", "--role", "king"},
				{"user", "create", "--db", dsn, "--login", "king"},
			} {
				if code, _, errs := runCLI(t, "", nil, args...); code != 1 || errs == "" {
					t.Errorf("%v: exit %d, stderr %q", args, code, errs)
				}
			}
		})
	}
}

func TestInvalidSettingsStopStartup(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"BEHALF_SESSION_TTL": "forever"}, nil, "BEHALF_SESSION_TTL"},
		{nil, []string{"--onbehalf-ticket-ttl", "11m"}, "BEHALF_ONBEHALF_TICKET_TTL"},
		{map[string]string{"BEHALF_ONBEHALF_CONSENT": "maybe"}, nil, "BEHALF_ONBEHALF_CONSENT"},
		{map[string]string{"BEHALF_STOREFRONT_URL": "shop"}, nil, "BEHALF_STOREFRONT_URL"},
		{nil, []string{"--db", "mysql://x"}, "unsupported DSN"},
	} {
		code, _, errs := runCLI(t, "", tc.env, append([]string{"serve", "--addr", "127.0.0.1:0"}, tc.args...)...)
		if code != 1 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v %v: exit %d, stderr %q; want mention of %s", tc.env, tc.args, code, errs, tc.want)
		}
	}
	if code, _, _ := runCLI(t, "", nil, "frobnicate"); code != 2 {
		t.Errorf("unknown command: exit %d", code)
	}
}

func TestGracefulShutdownFinishesInFlightRequests(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		_, _ = w.Write([]byte("finished"))
	})}
	shuttingDown := make(chan struct{})
	srv.RegisterOnShutdown(func() { close(shuttingDown) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runServer(ctx, srv, ln, 10*time.Second, zerolog.Nop()) }()

	type result struct {
		body string
		err  error
	}
	resc := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			resc <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		resc <- result{string(b), err}
	}()
	<-started
	stop()         // as SIGTERM would
	<-shuttingDown // Shutdown has begun; the request is still held, so runServer must still wait
	select {
	case err := <-done:
		t.Fatalf("server stopped before the in-flight request finished: %v", err)
	default:
	}
	close(release)
	if r := <-resc; r.err != nil || r.body != "finished" {
		t.Fatalf("in-flight request: %q %v", r.body, r.err)
	}
	if err := <-done; err != nil {
		t.Fatalf("runServer: %v", err)
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/"); err == nil {
		t.Fatal("server still accepts connections after shutdown")
	}
}

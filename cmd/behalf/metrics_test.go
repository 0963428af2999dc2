package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"behalf/app"
	"behalf/config"
	"behalf/internal/clock"
	"behalf/internal/dbtest"

	"github.com/rs/zerolog"
)

// TestMetricsListenerServesOnlyMetrics checks the separate BEHALF_METRICS_ADDR listener: /metrics
// answers there in the Prometheus text format, and the API does not.
func TestMetricsListenerServesOnlyMetrics(t *testing.T) {
	t.Parallel()
	a := app.New(config.Defaults(), dbtest.SQLite(t), zerolog.Nop(), clock.Real{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := serveMetrics(ln, a, zerolog.Nop())
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + ln.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	code, body := get("/metrics")
	if code != http.StatusOK || !strings.Contains(body, `behalf_sessions_live{kind="on_behalf"} 0`) {
		t.Errorf("/metrics: %d, want 200 with behalf_sessions_live; got %.300s", code, body)
	}
	if code, _ := get("/graphql"); code != http.StatusNotFound {
		t.Errorf("/graphql on the metrics listener: %d, want 404", code)
	}
}

// TestServiceKeysRotate checks `behalf service-keys rotate`: each run starts a new signing key and the
// previous one stays published.
func TestServiceKeysRotate(t *testing.T) {
	t.Parallel()
	dsn := dbtest.FreshDSN(t, "sqlite")
	for i := 0; i < 2; i++ {
		if code, out, errs := runCLI(t, "", nil, "service-keys", "rotate", "--db", dsn); code != 0 || !strings.Contains(out, "signed with key") {
			t.Fatalf("rotate: exit %d, %s %s", code, out, errs)
		}
	}
	cfg, err := dbConfig(dsn, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	db, err := openDB(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if sqlDB, err := db.DB(); err == nil {
			_ = sqlDB.Close()
		}
	}()
	set, err := app.New(cfg, db, zerolog.Nop(), clock.Real{}).ServiceTokens.JWKS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 {
		t.Errorf("JWKS after two rotations has %d keys, want 2 (the signing key and the one retired just now)", len(set.Keys))
	}
}

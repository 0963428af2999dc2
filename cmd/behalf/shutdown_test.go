package main

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"behalf/internal/dbtest"

	"github.com/rs/zerolog"
)

// TestShutdownCancelsARunawayQuery stops the server (as SIGTERM does) while a request runs a query
// that would take a minute: runServer returns once its shutdown deadline passes, and the query is
// cancelled with the request's context rather than left running.
func TestShutdownCancelsARunawayQuery(t *testing.T) {
	db := dbtest.Postgres(t)
	started, queryDone := make(chan struct{}), make(chan error, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		queryDone <- db.WithContext(r.Context()).Exec("SELECT pg_sleep(60)").Error
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runServer(ctx, srv, ln, 300*time.Millisecond, zerolog.Nop()) }()
	go func() {
		if resp, err := http.Get("http://" + ln.Addr().String() + "/"); err == nil {
			resp.Body.Close()
		}
	}()
	<-started
	begin := time.Now()
	stop() // as SIGTERM would
	if err := <-done; err == nil {
		t.Fatal("runServer reported a clean shutdown although a request was still running")
	}
	if err := <-queryDone; err == nil {
		t.Fatal("the runaway query was not cancelled")
	}
	// Far below the query's minute: the server did not wait for it.
	if d := time.Since(begin); d > 30*time.Second {
		t.Fatalf("shutdown took %v", d)
	}
}

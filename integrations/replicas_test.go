package integrations_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"behalf/app"
	"behalf/config"
	"behalf/internal/apptest"
	"behalf/internal/clock"
	"behalf/internal/dbtest"
	"behalf/model"
	"behalf/security"
	"behalf/store"

	"github.com/rs/zerolog"
)

// replica is one `behalf serve` process.
type replica struct {
	cmd       *exec.Cmd
	addr      string
	mu        sync.Mutex
	delivered int // "outbox delivered" log lines
	done      chan struct{}
}

func startReplica(t *testing.T, bin, dsn string) *replica {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0")
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dsn, "BEHALF_WEBHOOK_ALLOW_PRIVATE=true",
		"BEHALF_OUTBOX_POLL_INTERVAL=20ms", "BEHALF_WEBHOOK_BACKOFF=5ms", "BEHALF_LOG_FORMAT=json", "BEHALF_MAX_CONCURRENT_HASHES=2")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &replica{cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		defer close(r.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct{ Message, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				continue
			}
			switch line.Message {
			case "behalf serving":
				addr <- line.Addr
			case "outbox delivered":
				r.mu.Lock()
				r.delivered++
				r.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-r.done; _ = cmd.Wait() })
	select {
	case r.addr = <-addr:
	case <-r.done:
		t.Fatal("behalf serve exited before serving")
	case <-time.After(60 * time.Second):
		t.Fatal("behalf serve did not start")
	}
	return r
}

func (r *replica) do(t *testing.T, token, query string, vars map[string]any, out any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, "http://"+r.addr+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var resp struct {
		Data   json.RawMessage
		Errors []any
	}
	if err := json.NewDecoder(res.Body).Decode(&resp); err != nil || len(resp.Errors) > 0 {
		t.Fatalf("%s: %v %v", query, err, resp.Errors)
	}
	if out != nil {
		if err := json.Unmarshal(resp.Data, out); err != nil {
			t.Fatal(err)
		}
	}
}

// stop ends the process as an operator would (SIGTERM) and waits for it.
func (r *replica) stop(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-r.done
	if err := r.cmd.Wait(); err != nil {
		t.Errorf("behalf serve: %v", err)
	}
}

// TestTwoServeProcessesDeliverEachEventOnce runs two `behalf serve` processes on one PostgreSQL
// database; events made through both, with a receiver failing its first three requests, arrive once
// each (by webhook-id) and in order.
func TestTwoServeProcessesDeliverEachEventOnce(t *testing.T) {
	t.Parallel()
	dsn := dbtest.FreshDSN(t, store.Postgres)
	bin := filepath.Join(t.TempDir(), "behalf")
	if out, err := exec.Command("go", "build", "-o", bin, "behalf/cmd/behalf").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	db, err := store.Open(dsn, store.Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			_ = sqlDB.Close()
		}
	})
	a := app.New(config.Defaults(), db, zerolog.Nop(), clock.Real{})
	var customer *model.User
	for _, u := range []struct{ login, role string }{{"admin", "administrator"}, {"carla", "customer"}} {
		customer, err = a.Security.CreateUserUnchecked(context.Background(), security.CreateUserInput{
			Login: u.login, Email: u.login + "@example.com", Password: apptest.DefaultPassword, Roles: []string{u.role},
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	reps := []*replica{startReplica(t, bin, dsn), startReplica(t, bin, dsn)}
	var login struct{ Login struct{ Token string } }
	reps[0].do(t, "", `mutation($l:String!,$p:String!){ login(login:$l, password:$p){ token } }`,
		map[string]any{"l": "admin", "p": apptest.DefaultPassword}, &login)
	tok := login.Login.Token
	rcv := newReceiver(t)
	rcv.failNext(3)
	var created struct{ CreateWebhookEndpoint struct{ Secret string } }
	reps[1].do(t, tok, `mutation($u:String!){ createWebhookEndpoint(input:{url:$u, events:["session.revoked"]}){ secret } }`,
		map[string]any{"u": rcv.URL()}, &created)
	rcv.setSecret(created.CreateWebhookEndpoint.Secret)

	const events = 10
	for i := range events {
		reps[i%2].do(t, tok, `mutation($u:ID!){ revokeAllSessions(userId:$u) }`, map[string]any{"u": customer.ID}, nil)
	}
	for distinct := 0; distinct < events; {
		select {
		case <-rcv.got:
		case <-time.After(60 * time.Second): // a guard against hanging, not a synchronisation
			got, bad := rcv.snapshot()
			t.Fatalf("only %d of %d events arrived: %+v %v", len(got), events, got, bad)
		}
		got, _ := rcv.snapshot()
		ids := map[string]bool{}
		for _, g := range got {
			ids[g.ID] = true
		}
		distinct = len(ids)
	}
	for _, r := range reps {
		r.stop(t)
	}
	got, bad := rcv.snapshot()
	if len(bad) > 0 || len(got) != events {
		t.Fatalf("received %d webhooks for %d events: %v", len(got), events, bad)
	}
	ids := make([]string, len(got))
	for i, g := range got {
		ids[i] = g.ID
	}
	if !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != events {
		t.Errorf("webhook-ids out of order or repeated: %v", ids)
	}
	t.Logf("successful deliveries per process: %d and %d", reps[0].delivered, reps[1].delivered)
}

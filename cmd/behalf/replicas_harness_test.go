package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The replica harness runs real `behalf serve` processes. Their binary is this test binary: TestMain
// runs the command line instead of the tests when runMainEnv is set, so nothing is built twice.
const runMainEnv = "BEHALF_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// replica is one `behalf serve` process on a loopback port.
type replica struct {
	name   string
	cmd    *exec.Cmd
	url    string // http://127.0.0.1:PORT/graphql
	stdout string // file the process prints to (the demo logins)
	log    *logWatch
	done   chan struct{}
}

// logWatch collects a process's log lines and lets a test wait for one.
type logWatch struct {
	mu      sync.Mutex
	lines   []string
	changed chan struct{}
}

func newLogWatch() *logWatch { return &logWatch{changed: make(chan struct{})} }

func (w *logWatch) add(line string) {
	w.mu.Lock()
	w.lines = append(w.lines, line)
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
}

// count returns how many lines contain s.
func (w *logWatch) count(s string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, l := range w.lines {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

// waitFor waits until n lines contain s and returns the n-th; it fails the test after timeout (a
// bound for a broken process, not a synchronization window) or when the process exits.
func (w *logWatch) waitFor(t testing.TB, r *replica, s string, n int, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		w.mu.Lock()
		seen := 0
		for _, l := range w.lines {
			if strings.Contains(l, s) {
				seen++
				if seen == n {
					w.mu.Unlock()
					return l
				}
			}
		}
		ch := w.changed
		w.mu.Unlock()
		select {
		case <-ch:
		case <-r.done:
			t.Fatalf("%s exited while waiting for %q:\n%s", r.name, s, w.String())
		case <-deadline:
			t.Fatalf("%s: no %q in the log after %s:\n%s", r.name, s, timeout, w.String())
		}
	}
}

func (w *logWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.lines, "\n")
}

// startReplicas starts n `behalf serve` processes at the same instant on dsn, with extra arguments,
// and waits until each serves and its change listener is connected. They are stopped with SIGTERM
// when t ends.
func startReplicas(t *testing.T, dsn string, n int, args ...string) []*replica {
	t.Helper()
	dir := t.TempDir()
	rs := make([]*replica, n)
	for i := range rs {
		name := string(rune('A' + i))
		r := &replica{name: name, log: newLogWatch(), done: make(chan struct{}), stdout: filepath.Join(dir, name+".out")}
		out, err := os.Create(r.stdout)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = out.Close() })
		r.cmd = exec.Command(os.Args[0], append([]string{"serve", "--addr", "127.0.0.1:0", "--db", dsn}, args...)...)
		// The replicas hash in their real worker process (this binary as "hash-worker"), but on a
		// loaded test machine the idle worker gets no CPU: a hash waits 100 ms, not 1 s, before the
		// server computes it itself.
		r.cmd.Env = append(os.Environ(), runMainEnv+"=1", "BEHALF_LOG_FORMAT=json", "BEHALF_LOG_LEVEL=info",
			"BEHALF_MAX_CONCURRENT_HASHES=8", "BEHALF_HASH_IDLE_WAIT=100ms",
			"BEHALF_HASH_CLIENT_RATE=0") // every test client signs in from 127.0.0.1, faster than one client's share
		r.cmd.Stdout = out
		stderr, err := r.cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			sc := bufio.NewScanner(stderr)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				r.log.add(sc.Text())
			}
		}()
		rs[i] = r
	}
	// Start them together: each waits on the same gate.
	gate := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, r := range rs {
		wg.Go(func() {
			<-gate
			errs[i] = r.cmd.Start()
		})
	}
	close(gate)
	wg.Wait()
	for i, r := range rs {
		if errs[i] != nil {
			t.Fatalf("start replica %s: %v", r.name, errs[i])
		}
		go func() {
			_ = r.cmd.Wait()
			close(r.done)
		}()
		t.Cleanup(func() {
			_ = r.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-r.done:
			case <-time.After(20 * time.Second):
				t.Errorf("replica %s did not stop on SIGTERM; killing it", r.name)
				_ = r.cmd.Process.Kill()
				<-r.done
			}
		})
	}
	for _, r := range rs {
		line := r.log.waitFor(t, r, `"behalf serving"`, 1, 2*time.Minute)
		var entry struct{ Addr string }
		if err := json.Unmarshal([]byte(line), &entry); err != nil || entry.Addr == "" {
			t.Fatalf("replica %s: no address in %q: %v", r.name, line, err)
		}
		r.url = "http://" + entry.Addr + "/graphql"
		r.log.waitFor(t, r, "change listener connected", 1, time.Minute)
	}
	return rs
}

// gqlClient keeps connections to the replicas open, as a load balancer would.
var gqlClient = &http.Client{
	Timeout:   30 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64},
}

// gqlResult is a decoded GraphQL response.
type gqlResult struct {
	Status int
	Data   json.RawMessage
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	}
}

// code is the first error's extensions.code, or "".
func (g *gqlResult) code() string {
	if len(g.Errors) == 0 {
		return ""
	}
	c, _ := g.Errors[0].Extensions["code"].(string)
	return c
}

// post sends one GraphQL request; transport errors are returned, not fatal (callers may run in
// goroutines).
func (r *replica) post(token, query string, vars map[string]any) (*gqlResult, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodPost, r.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := gqlClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("replica %s: %w", r.name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	res := &gqlResult{Status: resp.StatusCode}
	if err := json.Unmarshal(b, res); err != nil {
		return nil, fmt.Errorf("replica %s: status %d, body %q: %w", r.name, resp.StatusCode, b, err)
	}
	return res, nil
}

// mustDo runs a request that must succeed and decodes its data into out (if not nil).
func (r *replica) mustDo(t testing.TB, token, query string, vars map[string]any, out any) {
	t.Helper()
	res, err := r.post(token, query, vars)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != http.StatusOK || len(res.Errors) > 0 {
		t.Fatalf("replica %s: %s: status %d, errors %+v", r.name, query, res.Status, res.Errors)
	}
	if out != nil {
		if err := json.Unmarshal(res.Data, out); err != nil {
			t.Fatal(err)
		}
	}
}

// alive reports whether token is accepted by r ({ me { id } }); anything but success or
// UNAUTHENTICATED is an error.
func (r *replica) alive(token string) (bool, error) {
	res, err := r.post(token, `{ me { id } }`, nil)
	if err != nil {
		return false, err
	}
	switch {
	case res.Status == http.StatusOK && len(res.Errors) == 0:
		return true, nil
	case res.code() == "UNAUTHENTICATED":
		return false, nil
	}
	return false, fmt.Errorf("replica %s: status %d, errors %+v", r.name, res.Status, res.Errors)
}

// demoLogins reads the logins printed by the replicas that loaded demo data: login → password, and
// how many replicas printed them.
func demoLogins(t *testing.T, rs []*replica) (map[string]string, int) {
	t.Helper()
	logins, printed := map[string]string{}, 0
	for _, r := range rs {
		b, err := os.ReadFile(r.stdout)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("Demo data loaded")) {
			continue
		}
		printed++
		for _, line := range strings.Split(string(b), "\n")[1:] {
			if f := strings.Fields(line); len(f) == 3 {
				logins[f[0]] = f[2]
			}
		}
	}
	return logins, printed
}

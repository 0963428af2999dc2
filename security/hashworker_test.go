package security

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

// TestMain lets this test binary be a hash worker: the process tests start it as
// "<test binary> hash-worker --priority idle", like serve starts "behalf hash-worker".
func TestMain(m *testing.M) {
	if len(os.Args) == 4 && os.Args[1] == "hash-worker" && os.Args[2] == "--priority" {
		if err := RunHashWorker(os.Args[3]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var cheap = Argon2Params{Memory: 64, Time: 1, Threads: 1}

// pipeWorker starts ServeHashWorker in a goroutine behind in-memory pipes; serve replaces it (a
// crashing worker) when not nil.
func pipeWorker(t *testing.T, serve func(r io.Reader, w io.Writer) error) (*workerConn, error) {
	if serve == nil {
		serve = ServeHashWorker
	}
	reqR, reqW := io.Pipe()
	ansR, ansW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := serve(reqR, ansW)
		_ = ansW.CloseWithError(io.EOF)
		_ = reqR.Close()
		done <- err
	}()
	t.Cleanup(func() { _ = reqW.Close() })
	return newWorkerConn(reqW, ansR, nil, func() error { return <-done }), nil
}

func wantKey(pw, salt string, p Argon2Params, n uint32) []byte {
	return argon2.IDKey([]byte(pw), []byte(salt), p.Time, p.Memory, p.Threads, n)
}

// TestHashWorkerAnswersConcurrentRequests derives keys through the protocol, many at once (answers
// come back in any order), and gets argon2id's own keys.
func TestHashWorkerAnswersConcurrentRequests(t *testing.T) {
	t.Parallel()
	w := newHashWorkerWith(func() (*workerConn, error) { return pipeWorker(t, nil) })
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pw, salt := fmt.Sprintf("password %d", i), fmt.Sprintf("salt of sixteen%d", i)
			key, err := w.DeriveKey(context.Background(), []byte(pw), []byte(salt), cheap, uint32(16+i))
			if err == nil && !bytes.Equal(key, wantKey(pw, salt, cheap, uint32(16+i))) {
				err = fmt.Errorf("request %d: wrong key", i)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if w.Starts() != 1 || w.Fallbacks() != 0 {
		t.Fatalf("starts %d, fallbacks %d; want 1, 0", w.Starts(), w.Fallbacks())
	}
	// A request out of bounds is refused by the worker (empty answer), and falls back.
	c := w.conn()
	if _, err := c.derive(context.Background(), []byte("pw"), []byte("salt"), Argon2Params{Memory: 64, Time: 0, Threads: 1}, 32, 0); err == nil {
		t.Fatal("time 0 accepted by the worker")
	}
}

// TestHashWorkerRestartsAfterCrash: a worker that dies with a request in flight costs no login (the
// hash runs in process), and the next hash starts a new worker.
func TestHashWorkerRestartsAfterCrash(t *testing.T) {
	t.Parallel()
	spawned := 0
	crash := func(r io.Reader, w io.Writer) error {
		if _, err := io.WriteString(w, workerHello); err != nil {
			return err
		}
		var hdr [4]byte
		_, err := io.ReadFull(r, hdr[:]) // a request arrives: die without answering
		return err
	}
	w := newHashWorkerWith(func() (*workerConn, error) {
		spawned++
		if spawned == 1 {
			return pipeWorker(t, crash)
		}
		return pipeWorker(t, nil)
	})
	exited := make(chan error, 4)
	w.OnEvent = func(event string, err error) {
		if event == "exited" {
			exited <- err
		}
	}
	for i, want := range []struct{ starts, fallbacks int64 }{{1, 1}, {2, 1}} {
		key, err := w.DeriveKey(context.Background(), []byte("pw"), []byte("saltsaltsaltsalt"), cheap, 32)
		if err != nil || !bytes.Equal(key, wantKey("pw", "saltsaltsaltsalt", cheap, 32)) {
			t.Fatalf("hash %d: %v (key ok: %v)", i, err, bytes.Equal(key, wantKey("pw", "saltsaltsaltsalt", cheap, 32)))
		}
		if w.Starts() != want.starts || w.Fallbacks() != want.fallbacks {
			t.Fatalf("after hash %d: starts %d, fallbacks %d; want %d, %d", i, w.Starts(), w.Fallbacks(), want.starts, want.fallbacks)
		}
		if i == 0 {
			if err := <-exited; !errors.Is(err, errWorkerGone) {
				t.Fatalf("exit of the crashed worker: %v", err)
			}
		}
	}
}

// TestHashWorkerFallsBackWhenItCannotStart: without a worker every hash runs in process, and the
// start is not retried for every hash.
func TestHashWorkerFallsBackWhenItCannotStart(t *testing.T) {
	t.Parallel()
	tries := 0
	w := newHashWorkerWith(func() (*workerConn, error) { tries++; return nil, errors.New("no such binary") })
	w.backoff = time.Hour
	for range 3 {
		key, err := w.DeriveKey(context.Background(), []byte("pw"), []byte("saltsaltsaltsalt"), cheap, 32)
		if err != nil || !bytes.Equal(key, wantKey("pw", "saltsaltsaltsalt", cheap, 32)) {
			t.Fatalf("fallback hash: %v", err)
		}
	}
	if tries != 1 || w.Fallbacks() != 3 || w.Starts() != 0 {
		t.Fatalf("tries %d, fallbacks %d, starts %d; want 1, 3, 0", tries, w.Fallbacks(), w.Starts())
	}
	// Through a Hasher: hashing and verifying work the same.
	h := NewHasher(cheap, 1, time.Second)
	h.SetDeriver(w)
	enc, err := h.Hash(context.Background(), "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := h.Verify(context.Background(), enc, "correct horse battery"); !ok || err != nil {
		t.Fatalf("verify: %v %v", ok, err)
	}
}

// TestHashWorkerProcess starts the real worker process (this test binary as "hash-worker"): it
// answers, every one of its threads runs at SCHED_IDLE (Linux), and after it is killed the next hash
// starts a new one.
func TestHashWorkerProcess(t *testing.T) {
	t.Parallel()
	w := NewHashWorker(0, os.Args[0], "hash-worker", "--priority", "idle")
	w.backoff = 0
	exited := make(chan error, 4)
	w.OnEvent = func(event string, err error) {
		if event == "exited" {
			exited <- err
		}
	}
	t.Cleanup(func() { _ = w.Close() })
	h := NewHasher(cheap, 2, time.Minute)
	h.SetDeriver(w)
	enc, err := h.Hash(context.Background(), "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := h.Verify(context.Background(), enc, "correct horse battery"); !ok || err != nil {
		t.Fatalf("verify: %v %v", ok, err)
	}
	if w.Fallbacks() != 0 || w.Starts() != 1 {
		t.Fatalf("fallbacks %d, starts %d", w.Fallbacks(), w.Starts())
	}
	pid := w.Pid()
	if runtime.GOOS == "linux" {
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
			if err != nil {
				t.Fatal(err)
			}
			f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:])) // fields from the 3rd
			if nice, policy := f[19-3], f[41-3]; nice != "19" || policy != "5" {
				t.Fatalf("worker thread %s: nice %s, policy %s; want 19, 5 (SCHED_IDLE)", task.Name(), nice, policy)
			}
		}
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	if ok, _, err := h.Verify(context.Background(), enc, "correct horse battery"); !ok || err != nil {
		t.Fatalf("verify after the kill: %v %v", ok, err)
	}
	if w.Starts() != 2 || w.Pid() == pid || w.Pid() == 0 {
		t.Fatalf("starts %d, pid %d (was %d)", w.Starts(), w.Pid(), pid)
	}
}

// TestRetryAfterFollowsTheQueue: a refusal's Retry-After is the backlog times the recent hash time
// over the slots, spread by up to half, between 1 s and 30 s.
func TestRetryAfterFollowsTheQueue(t *testing.T) {
	t.Parallel()
	h := NewHasherQueue(cheap, 1, 0, time.Second, nil)
	release, err := h.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !h.Full() {
		t.Fatal("one slot busy, no queue: not full")
	}
	for _, c := range []struct {
		avg      time.Duration
		min, max time.Duration
	}{{time.Millisecond, time.Second, time.Second}, {4 * time.Second, 8 * time.Second, 12 * time.Second}, {time.Minute, 30 * time.Second, 30 * time.Second}} {
		h.avgHash.Store(int64(c.avg))
		_, err := h.Hash(context.Background(), "x")
		ra, ok := RetryAfterOf(err)
		if !ok || ra < c.min || ra > c.max {
			t.Fatalf("hash time %s: %v, Retry-After %s; want %s..%s", c.avg, err, ra, c.min, c.max)
		}
	}
	release()
	if h.Full() {
		t.Fatal("full after release")
	}
}

// TestHashWorkerStarvedHashRunsInProcess: a worker that gets no CPU (here: never answers) delays a
// hash by the starve bound only; the server then computes it itself.
func TestHashWorkerStarvedHashRunsInProcess(t *testing.T) {
	t.Parallel()
	mute := func(r io.Reader, w io.Writer) error {
		if _, err := io.WriteString(w, workerHello); err != nil {
			return err
		}
		_, err := io.Copy(io.Discard, r) // reads every request, answers none
		return err
	}
	w := newHashWorkerWith(func() (*workerConn, error) { return pipeWorker(t, mute) })
	w.starve = time.Millisecond
	const n = maxOutstanding + 4
	for range n {
		key, err := w.DeriveKey(context.Background(), []byte("pw"), []byte("saltsaltsaltsalt"), cheap, 32)
		if err != nil || !bytes.Equal(key, wantKey("pw", "saltsaltsaltsalt", cheap, 32)) {
			t.Fatalf("starved hash: %v", err)
		}
	}
	if w.Starts() != 1 || w.Starved() != n || w.Fallbacks() != n {
		t.Fatalf("starts %d, starved %d, fallbacks %d; want 1, %d, %d", w.Starts(), w.Starved(), w.Fallbacks(), n, n)
	}
	// Abandoned requests still count until answered: no more than maxOutstanding were sent, so a
	// worker starved for good never fills its pipe.
	c := w.conn()
	c.mu.Lock()
	out := c.outstanding
	c.mu.Unlock()
	if out != maxOutstanding {
		t.Fatalf("%d requests outstanding, want %d", out, maxOutstanding)
	}
}

package security

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
)

// The hash worker: argon2id in a separate process at the lowest CPU priority.
//
// A login's hash costs tens of milliseconds of CPU and a 19 MiB allocation. Run in the server, it
// competes with every other request for the cores, and its allocations drive the server's garbage
// collector. Lowering the priority of server threads instead does not work in Go: a goroutine
// locked to a SCHED_IDLE thread still holds a P while descheduled, and a stop-the-world GC waits for
// it, stalling every request. So the server re-executes its own binary as `behalf hash-worker`,
// which lowers every one of its threads to SCHED_IDLE (or nice 19) in a session (and so a scheduler
// autogroup) of its own at nice 19, and computes keys fed over its stdin/stdout pipes. Hashes then
// run on cycles no request wants, and the worker's garbage is its own. The server keeps the limiter,
// the throttles, encoding and the constant-time comparison; the worker only derives keys.
//
// If the worker cannot start, or dies, the hash in flight and those until a restart succeeds run in
// process, at normal priority, so logins keep working; a dead worker is restarted on the next hash
// (at most once per restartBackoff).
//
// Protocol (little-endian): the worker first writes workerHello. Each request is a frame
// [u32 length][u64 id][u32 time][u32 memory KiB][u8 threads][u32 key length][u16 salt length][salt]
// [password], each answer [u32 length][u64 id][key] (an empty key: the request was refused). Answers
// may come in any order. The worker exits at end of input, so it dies with the server.

const (
	workerHello    = "BHW1"
	maxKeyLen      = 1024
	maxSaltLen     = 1024
	maxPasswordLen = 2048 // with maxSaltLen and maxOutstanding: all requests in flight fit a 64 KiB pipe
	maxFrame       = 8 + 4 + 4 + 1 + 4 + 2 + maxSaltLen + maxPasswordLen
	restartBackoff = 5 * time.Second
	// maxOutstanding bounds the requests sent to a worker and not yet answered, abandoned ones (starved,
	// cancelled) included: beyond it the worker is taken as starved and the server hashes itself, so a
	// long-starved worker never fills its pipe and blocks a login in a write.
	maxOutstanding = 16
)

var (
	errWorkerGone = errors.New("hash worker exited")
	errStarved    = errors.New("hash worker got no CPU in time")
)

// HashWorker is a KeyDeriver backed by a worker process, restarted when it dies, with an in-process
// fallback. Install it with Hasher.SetDeriver.
type HashWorker struct {
	spawn func() (*workerConn, error)
	// OnEvent, if set, hears "started", "exited" (with the error) and "fallback" (a hash ran in
	// process); the server logs them.
	OnEvent func(event string, err error)

	backoff time.Duration // between starts
	// starve bounds how long a hash waits for the worker (for spare CPU) before the server computes
	// it itself, at normal priority; 0: no bound.
	starve time.Duration

	mu        sync.Mutex
	cur       *workerConn
	lastStart time.Time
	starts    atomic.Int64
	fallbacks atomic.Int64
	starved   atomic.Int64
}

// NewHashWorker returns a HashWorker running exe with args (the server's own binary and
// "hash-worker", with the priority), started on the first hash. A hash that waited starve (0: no
// bound) for the worker without an answer, because no CPU was spare, is computed by the server at
// normal priority: a login's latency stays bounded on a saturated machine, and, since the caller
// holds a hashing slot meanwhile, the server's share of hashing stays at most about one hash per slot
// per starve.
func NewHashWorker(starve time.Duration, exe string, args ...string) *HashWorker {
	return &HashWorker{spawn: func() (*workerConn, error) { return startProcess(exe, args) }, backoff: restartBackoff, starve: starve}
}

// newHashWorkerWith returns a HashWorker whose workers spawn starts (tests run them in goroutines).
func newHashWorkerWith(spawn func() (*workerConn, error)) *HashWorker {
	return &HashWorker{spawn: spawn}
}

// Pid returns the running worker's process id (0: none).
func (w *HashWorker) Pid() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cur == nil || w.cur.isDead() {
		return 0
	}
	return w.cur.pid
}

// Starts is how many worker processes were started; Fallbacks how many hashes ran in process (no
// worker, or it died); Starved how many of those because the worker got no CPU in time.
func (w *HashWorker) Starts() int64    { return w.starts.Load() }
func (w *HashWorker) Fallbacks() int64 { return w.fallbacks.Load() }
func (w *HashWorker) Starved() int64   { return w.starved.Load() }

func (w *HashWorker) event(name string, err error) {
	if w.OnEvent != nil {
		w.OnEvent(name, err)
	}
}

// Close ends the worker (it exits at end of input).
func (w *HashWorker) Close() error {
	w.mu.Lock()
	c := w.cur
	w.cur = nil
	w.mu.Unlock()
	if c == nil {
		return nil
	}
	return c.close()
}

// conn returns the live worker, starting one if there is none, unless the last start was less than
// the backoff ago (a worker that keeps dying must not be respawned for every login).
func (w *HashWorker) conn() *workerConn {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cur != nil && !w.cur.isDead() {
		return w.cur
	}
	w.cur = nil
	if !w.lastStart.IsZero() && time.Since(w.lastStart) < w.backoff {
		return nil
	}
	w.lastStart = time.Now()
	c, err := w.spawn()
	if err != nil {
		w.event("start failed", err)
		return nil
	}
	w.starts.Add(1)
	c.onExit = func(err error) { w.event("exited", err) }
	c.start(c)
	w.cur = c
	w.event("started", nil)
	return c
}

// DeriveKey computes the key in the worker; in process when there is no worker or it died meanwhile.
func (w *HashWorker) DeriveKey(ctx context.Context, password, salt []byte, p Argon2Params, keyLen uint32) ([]byte, error) {
	if c := w.conn(); c != nil && len(password) <= maxPasswordLen {
		key, err := c.derive(ctx, password, salt, p, keyLen, w.starve)
		if err == nil || ctx.Err() != nil {
			return key, err
		}
		if errors.Is(err, errStarved) {
			w.starved.Add(1)
		}
	}
	w.fallbacks.Add(1)
	w.event("fallback", nil)
	return InProcess{}.DeriveKey(ctx, password, salt, p, keyLen)
}

// workerConn is the server's end of one worker's pipes.
type workerConn struct {
	w      io.WriteCloser
	wmu    sync.Mutex
	kill   func()
	onExit func(error)
	start  func(c *workerConn)
	pid    int // the process's id; 0 for a worker in a goroutine (tests)

	mu          sync.Mutex
	nextID      uint64
	outstanding int // sent and not yet answered, abandoned requests included
	pending     map[uint64]chan []byte
	dead        error
}

// newWorkerConn reads answers from r until it fails, then fails every pending request; wait (may be
// nil) reaps the process.
func newWorkerConn(w io.WriteCloser, r io.Reader, kill func(), wait func() error) *workerConn {
	return &workerConn{w: w, kill: kill, pending: map[uint64]chan []byte{}, start: func(c *workerConn) { go c.read(r, wait) }}
}

func (c *workerConn) read(r io.Reader, wait func() error) {
	br := bufio.NewReader(r)
	err := readHello(br)
	for err == nil {
		var id uint64
		var key []byte
		if id, key, err = readAnswer(br); err == nil {
			c.mu.Lock()
			ch := c.pending[id]
			delete(c.pending, id)
			c.outstanding--
			c.mu.Unlock()
			if ch != nil {
				ch <- key
			}
		}
	}
	if errors.Is(err, io.EOF) {
		err = errWorkerGone
	}
	_ = c.w.Close()
	if wait != nil {
		if werr := wait(); werr != nil {
			err = fmt.Errorf("%w: %v", errWorkerGone, werr)
		}
	}
	c.mu.Lock()
	c.dead = err
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	for _, ch := range pending {
		close(ch)
	}
	if c.onExit != nil {
		c.onExit(err)
	}
}

func (c *workerConn) isDead() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dead != nil
}

func (c *workerConn) close() error {
	if c.kill != nil {
		c.kill()
	}
	return c.w.Close()
}

func (c *workerConn) derive(ctx context.Context, password, salt []byte, p Argon2Params, keyLen uint32, starve time.Duration) ([]byte, error) {
	if keyLen == 0 || keyLen > maxKeyLen || len(salt) > maxSaltLen {
		return nil, fmt.Errorf("hash worker: key or salt too long")
	}
	ch := make(chan []byte, 1)
	c.mu.Lock()
	if c.dead != nil {
		err := c.dead
		c.mu.Unlock()
		return nil, err
	}
	if c.outstanding >= maxOutstanding {
		c.mu.Unlock()
		return nil, errStarved
	}
	c.nextID++
	c.outstanding++
	id := c.nextID
	c.pending[id] = ch
	c.mu.Unlock()
	frame := make([]byte, 0, 4+23+len(salt)+len(password))
	frame = binary.LittleEndian.AppendUint32(frame, uint32(23+len(salt)+len(password)))
	frame = binary.LittleEndian.AppendUint64(frame, id)
	frame = binary.LittleEndian.AppendUint32(frame, p.Time)
	frame = binary.LittleEndian.AppendUint32(frame, p.Memory)
	frame = append(frame, p.Threads)
	frame = binary.LittleEndian.AppendUint32(frame, keyLen)
	frame = binary.LittleEndian.AppendUint16(frame, uint16(len(salt)))
	frame = append(frame, salt...)
	frame = append(frame, password...)
	c.wmu.Lock()
	_, err := c.w.Write(frame)
	c.wmu.Unlock()
	clear(frame) // the password
	if err != nil {
		c.forget(id)
		return nil, fmt.Errorf("%w: %v", errWorkerGone, err)
	}
	var starved <-chan time.Time
	if starve > 0 {
		t := time.NewTimer(starve)
		defer t.Stop()
		starved = t.C
	}
	select {
	case <-starved:
		c.forget(id) // the worker finishes it on spare cycles; its answer is dropped
		return nil, errStarved
	case key, ok := <-ch:
		if !ok {
			return nil, errWorkerGone
		}
		if len(key) != int(keyLen) {
			return nil, fmt.Errorf("hash worker refused the request")
		}
		return key, nil
	case <-ctx.Done():
		// The worker finishes this hash on idle cycles; its answer is dropped.
		c.forget(id)
		return nil, ctx.Err()
	}
}

func (c *workerConn) forget(id uint64) {
	c.mu.Lock()
	if c.pending != nil {
		delete(c.pending, id)
	}
	c.mu.Unlock()
}

func readHello(r io.Reader) error {
	b := make([]byte, len(workerHello))
	if _, err := io.ReadFull(r, b); err != nil {
		return fmt.Errorf("hash worker hello: %w", err)
	}
	if string(b) != workerHello {
		return fmt.Errorf("hash worker: unexpected hello %q", b)
	}
	return nil
}

func readAnswer(r io.Reader) (uint64, []byte, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.LittleEndian.Uint32(hdr[:4])
	if n < 8 || n > 8+maxKeyLen {
		return 0, nil, fmt.Errorf("hash worker: bad answer length %d", n)
	}
	key := make([]byte, n-8)
	if _, err := io.ReadFull(r, key); err != nil {
		return 0, nil, err
	}
	return binary.LittleEndian.Uint64(hdr[4:]), key, nil
}

// ServeHashWorker is the worker's side: it writes the hello, then answers every request frame read
// from r on w, deriving at most runtime.GOMAXPROCS keys at once, until r ends (nil) or breaks.
func ServeHashWorker(r io.Reader, w io.Writer) error {
	var wmu sync.Mutex
	if _, err := io.WriteString(w, workerHello); err != nil {
		return err
	}
	br := bufio.NewReader(r)
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	defer wg.Wait()
	var werr atomic.Value
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read request: %w", err)
		}
		n := binary.LittleEndian.Uint32(hdr[:])
		if n < 23 || n > maxFrame {
			return fmt.Errorf("bad request length %d", n)
		}
		req := make([]byte, n)
		if _, err := io.ReadFull(br, req); err != nil {
			return fmt.Errorf("read request: %w", err)
		}
		if err, _ := werr.Load().(error); err != nil {
			return err
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			id, key := deriveRequest(req)
			clear(req)
			out := make([]byte, 0, 12+len(key))
			out = binary.LittleEndian.AppendUint32(out, uint32(8+len(key)))
			out = binary.LittleEndian.AppendUint64(out, id)
			out = append(out, key...)
			wmu.Lock()
			defer wmu.Unlock()
			if _, err := w.Write(out); err != nil {
				werr.Store(err)
			}
		}()
	}
}

// deriveRequest decodes one request and derives its key; an empty key for a request out of bounds.
func deriveRequest(req []byte) (uint64, []byte) {
	le := binary.LittleEndian
	id := le.Uint64(req)
	t, m, threads, keyLen, saltLen := le.Uint32(req[8:]), le.Uint32(req[12:]), req[16], le.Uint32(req[17:]), int(le.Uint16(req[21:]))
	rest := req[23:]
	if t == 0 || threads == 0 || m < 8*uint32(threads) || keyLen == 0 || keyLen > maxKeyLen || saltLen > len(rest) || len(rest)-saltLen > maxPasswordLen {
		return id, nil
	}
	return id, argon2.IDKey(rest[saltLen:], rest[:saltLen], t, m, threads, keyLen)
}

// RunHashWorker is `behalf hash-worker`: it lowers the process to priority ("idle": SCHED_IDLE,
// "low": nice 19; both at nice 19 in its own autogroup) and serves stdin/stdout until stdin ends.
func RunHashWorker(priority string) error {
	if err := lowerPriority(priority); err != nil {
		fmt.Fprintf(os.Stderr, "hash-worker: priority %s not set: %v\n", priority, err)
	}
	return ServeHashWorker(os.Stdin, os.Stdout)
}

// startProcess starts exe args as a hash worker in a session of its own.
func startProcess(exe string, args []string) (*workerConn, error) {
	cmd := exec.Command(exe, args...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = workerSysProcAttr()
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start hash worker: %w", err)
	}
	c := newWorkerConn(in, out, func() { _ = cmd.Process.Kill() }, cmd.Wait)
	c.pid = cmd.Process.Pid
	return c, nil
}

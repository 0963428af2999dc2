package integrations_test

import (
	"encoding/json"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strings"
	"sync"
	"testing"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/emersion/go-smtp"
)

// received is one webhook the receiver accepted, after its signature verified.
type received struct {
	ID   string
	Type string
	Data map[string]any
	Sigs string
}

// receiver is a webhook endpoint on loopback that verifies every request with the Standard Webhooks
// reference library and answers 500 while told to fail.
type receiver struct {
	t        testing.TB
	srv      *httptest.Server
	mu       sync.Mutex
	secret   string
	fail     int // answer 500 to this many more requests
	attempts map[string]int
	accepted []received
	bad      []string
	got      chan struct{} // one send per accepted webhook
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{t: t, attempts: map[string]int{}, got: make(chan struct{}, 1000)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) URL() string { return r.srv.URL + "/hooks" }

func (r *receiver) setSecret(s string) { r.mu.Lock(); r.secret = s; r.mu.Unlock() }
func (r *receiver) failNext(n int)     { r.mu.Lock(); r.fail = n; r.mu.Unlock() }

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	id := req.Header.Get("webhook-id")
	r.attempts[id]++
	if err != nil {
		r.bad = append(r.bad, "read body: "+err.Error())
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if r.fail > 0 {
		r.fail--
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	wh, err := standardwebhooks.NewWebhook(r.secret)
	if err == nil {
		// The fake clock is far from the wall clock: check the signature, not the age.
		err = wh.VerifyIgnoringTimestamp(body, req.Header)
	}
	if err != nil {
		r.bad = append(r.bad, id+": "+err.Error())
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var p struct {
		Type string         `json:"type"`
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		r.bad = append(r.bad, id+": "+err.Error())
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.accepted = append(r.accepted, received{ID: id, Type: p.Type, Data: p.Data, Sigs: req.Header.Get("webhook-signature")})
	w.WriteHeader(http.StatusNoContent)
	r.got <- struct{}{}
}

// snapshot returns what was accepted so far and the verification failures.
func (r *receiver) snapshot() ([]received, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.accepted...), append([]string(nil), r.bad...)
}

func (r *receiver) attemptsOf(id string) int { r.mu.Lock(); defer r.mu.Unlock(); return r.attempts[id] }

// mailbox is an SMTP server on loopback (emersion/go-smtp) that keeps every message.
type mailbox struct {
	mu   sync.Mutex
	msgs []mailMsg
}

type mailMsg struct {
	From    string
	To      []string
	Subject string
	Body    string
}

func newMailbox(t testing.TB) (*mailbox, string) {
	mb := &mailbox{}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &smtpSession{mb: mb}, nil }))
	s.Domain = "localhost"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close() })
	return mb, "smtp://" + ln.Addr().String()
}

func (mb *mailbox) messages() []mailMsg {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return append([]mailMsg(nil), mb.msgs...)
}

type smtpSession struct {
	mb   *mailbox
	from string
	to   []string
}

func (s *smtpSession) Reset()        { s.from, s.to = "", nil }
func (s *smtpSession) Logout() error { return nil }
func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *smtpSession) Data(r io.Reader) error {
	m, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	var body []byte
	if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body, err = io.ReadAll(quotedprintable.NewReader(m.Body))
	} else {
		body, err = io.ReadAll(m.Body)
	}
	if err != nil {
		return err
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		return err
	}
	s.mb.mu.Lock()
	s.mb.msgs = append(s.mb.msgs, mailMsg{From: s.from, To: s.to, Subject: subject, Body: strings.ReplaceAll(string(body), "\r\n", "\n")})
	s.mb.mu.Unlock()
	return nil
}

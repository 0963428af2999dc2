// Package apptest runs the real server in-process for end-to-end tests: a fresh database (SQLite or
// PostgreSQL, from dbtest), a fake clock, the logs captured in a buffer, and a small GraphQL client.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"behalf/app"
	"behalf/config"
	"behalf/directory"
	"behalf/internal/clock"
	"behalf/model"
	"behalf/security"
	"behalf/store"

	"github.com/rs/zerolog"
	"gorm.io/gorm"
)

// Env is one in-process server.
type Env struct {
	T     testing.TB
	App   *app.App
	DB    *gorm.DB
	Clock *clock.Fake
	Logs  *SyncBuffer
}

// SyncBuffer is a goroutine-safe log sink.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything logged so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Start is the fake clock's initial time.
var Start = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// HashParams is the password hashing cost of test servers: far below security.DefaultArgon2, so a
// login costs microseconds instead of 19 MiB and tens of milliseconds (tests check behaviour, not
// the cost; security's own tests check the default).
var HashParams = security.Argon2Params{Memory: 512, Time: 1, Threads: 1}

// New starts a server on db with the default configuration, changed by the options.
func New(t testing.TB, db *gorm.DB, opts ...func(*config.Config)) *Env {
	return NewWith(t, db, nil, opts...)
}

// NewWith is New with wiring options for app.New (a tracer provider, for example).
func NewWith(t testing.TB, db *gorm.DB, appOpts []app.Option, opts ...func(*config.Config)) *Env {
	cfg := config.Defaults()
	cfg.MaxConcurrentHashes = 4
	cfg.HashRate = 0 // tests that sign in many times are not about the rate cap (security's tests are)
	for _, o := range opts {
		o(&cfg)
	}
	logs := &SyncBuffer{}
	log := zerolog.New(logs).Level(zerolog.DebugLevel).With().Timestamp().Logger()
	clk := clock.NewFake(Start)
	a := app.New(cfg, db, log, clk, append([]app.Option{app.WithHashParams(HashParams)}, appOpts...)...)
	return &Env{T: t, App: a, DB: db, Clock: clk, Logs: logs}
}

// Response is a decoded GraphQL response.
type Response struct {
	Status int
	Header http.Header
	Data   json.RawMessage
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	}
	Raw string
}

// Code returns the first error's extensions.code, or "" when there is no error.
func (r *Response) Code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// Decode unmarshals data into v, failing the test on errors.
func (r *Response) Decode(t testing.TB, v any) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("unexpected GraphQL errors: %s", r.Raw)
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decode %s: %v", r.Raw, err)
	}
}

// Request is one HTTP request to the server.
type Request struct {
	Method  string
	Path    string
	Body    io.Reader
	Headers map[string]string
}

// HTTP serves one raw request.
func (e *Env) HTTP(req Request) *httptest.ResponseRecorder {
	if req.Method == "" {
		req.Method = http.MethodPost
	}
	r := httptest.NewRequest(req.Method, req.Path, req.Body)
	r.RemoteAddr = "192.0.2.10:40000"
	r.Header.Set("User-Agent", "apptest")
	for k, v := range req.Headers {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	e.App.Handler.ServeHTTP(w, r)
	return w
}

// Do posts a GraphQL operation with an optional bearer token ("" for anonymous).
func (e *Env) Do(token, query string, vars map[string]any) *Response {
	e.T.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	h := map[string]string{"Content-Type": "application/json"}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	return parse(e.T, e.HTTP(Request{Path: "/graphql", Body: bytes.NewReader(body), Headers: h}))
}

// TryDo is Do for goroutines: it never touches the test (no Fatal off the test's goroutine) and returns
// an error when the answer is not GraphQL JSON; check it after the goroutines are done.
func (e *Env) TryDo(token, query string, vars map[string]any) (*Response, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return nil, err
	}
	h := map[string]string{"Content-Type": "application/json"}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	w := e.HTTP(Request{Path: "/graphql", Body: bytes.NewReader(body), Headers: h})
	res := &Response{Status: w.Code, Header: w.Header(), Raw: w.Body.String()}
	if err := json.Unmarshal(w.Body.Bytes(), res); err != nil {
		return nil, fmt.Errorf("response is not JSON (status %d): %s", w.Code, w.Body.String())
	}
	return res, nil
}

func parse(t testing.TB, w *httptest.ResponseRecorder) *Response {
	t.Helper()
	res := &Response{Status: w.Code, Header: w.Header(), Raw: w.Body.String()}
	if err := json.Unmarshal(w.Body.Bytes(), res); err != nil {
		t.Fatalf("response is not JSON (status %d): %s", w.Code, w.Body.String())
	}
	return res
}

// ParseRecorder decodes a recorded GraphQL response.
func ParseRecorder(t testing.TB, w *httptest.ResponseRecorder) *Response { return parse(t, w) }

// MustDo is Do that fails the test on GraphQL errors and decodes data into v (if v is not nil).
func (e *Env) MustDo(token, query string, vars map[string]any, v any) {
	e.T.Helper()
	r := e.Do(token, query, vars)
	if len(r.Errors) > 0 {
		e.T.Fatalf("%s\n→ %s", strings.TrimSpace(query), r.Raw)
	}
	if v != nil {
		r.Decode(e.T, v)
	}
}

// DefaultPassword is the password CreateUser gives accounts.
const DefaultPassword = "correct horse battery staple"

// CreateUser creates an account directly through the domain (no permission check).
func (e *Env) CreateUser(login string, roles []string, contactID *string) *model.User {
	e.T.Helper()
	u, err := e.App.Security.CreateUserUnchecked(context.Background(), security.CreateUserInput{
		Login: login, Email: login + "@example.com", Password: DefaultPassword, Roles: roles, ContactID: contactID,
	})
	if err != nil {
		e.T.Fatalf("create user %s: %v", login, err)
	}
	return u
}

// CreateContact creates an organization member directly in the database; orgID may be nil.
func (e *Env) CreateContact(first, last string, orgID *string) *model.Contact {
	e.T.Helper()
	c := &model.Contact{ID: model.NewID(), FirstName: first, LastName: last,
		Email: strings.ToLower(first+"."+last) + "@example.com", OrganizationID: orgID}
	c.SearchText = " " + strings.ToLower(first+" "+last+" "+first+" "+last+" example com") + " "
	if err := e.DB.Create(c).Error; err != nil {
		e.T.Fatalf("create contact: %v", err)
	}
	if err := directory.IndexContacts(context.Background(), e.DB, c); err != nil {
		e.T.Fatalf("index contact: %v", err)
	}
	return c
}

// CreateOrganization creates an organization directly in the database.
func (e *Env) CreateOrganization(name string) *model.Organization {
	e.T.Helper()
	o := &model.Organization{ID: model.NewID(), Name: name, SearchText: " " + strings.ToLower(name) + " "}
	if err := e.DB.Create(o).Error; err != nil {
		e.T.Fatalf("create organization: %v", err)
	}
	return o
}

// Login signs in through GraphQL and returns the token.
func (e *Env) Login(login, password string) string {
	e.T.Helper()
	var out struct {
		Login struct{ Token string } `json:"login"`
	}
	e.MustDo("", `mutation($l:String!,$p:String!){ login(login:$l, password:$p){ token } }`,
		map[string]any{"l": login, "p": password}, &out)
	return out.Login.Token
}

// UserWithToken creates a user with the roles and signs them in.
func (e *Env) UserWithToken(login string, roles ...string) (*model.User, string) {
	e.T.Helper()
	u := e.CreateUser(login, roles, nil)
	return u, e.Login(login, DefaultPassword)
}

// AuditEvents returns every audit event, oldest first.
func (e *Env) AuditEvents() []model.AuditEvent {
	e.T.Helper()
	var evs []model.AuditEvent
	if err := e.DB.Order("id").Find(&evs).Error; err != nil {
		e.T.Fatal(err)
	}
	return evs
}

// EventsWithAction returns the audit events of one action, oldest first.
func (e *Env) EventsWithAction(action string) []model.AuditEvent {
	var out []model.AuditEvent
	for _, ev := range e.AuditEvents() {
		if ev.Action == action {
			out = append(out, ev)
		}
	}
	return out
}

// StartBackground runs the server's background work (on PostgreSQL the change listener, which the
// identity cache needs to be trusted) until the test ends, and waits until the cache is trusted.
func (e *Env) StartBackground() {
	e.T.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	wait := e.App.Background(ctx)
	e.T.Cleanup(func() {
		cancel()
		wait()
	})
	bus := store.BusOf(e.DB)
	deadline := time.Now().Add(30 * time.Second)
	for !bus.Trusted() {
		if time.Now().After(deadline) {
			e.T.Fatal("apptest: the change listener did not connect within 30s")
		}
		time.Sleep(time.Millisecond)
	}
}

// OnBehalf runs the login-on-behalf flow: the operator (signed in with operatorToken, password
// DefaultPassword) asks for a ticket for userID and confirms it. It returns the scoped session's token
// and id.
func (e *Env) OnBehalf(operatorToken, operatorLogin, userID, reason string) (token, sessionID string) {
	e.T.Helper()
	var t struct {
		LoginOnBehalf struct{ Ticket string } `json:"loginOnBehalf"`
	}
	e.MustDo(operatorToken, `mutation($u:ID!,$r:String){ loginOnBehalf(userId:$u, reason:$r){ ticket } }`,
		map[string]any{"u": userID, "r": reason}, &t)
	var c struct {
		ConfirmOnBehalf struct {
			Token   string
			Session struct{ ID string }
		} `json:"confirmOnBehalf"`
	}
	e.MustDo("", `mutation($t:String!,$l:String!,$p:String!){ confirmOnBehalf(ticket:$t, login:$l, password:$p){ token session { id } } }`,
		map[string]any{"t": t.LoginOnBehalf.Ticket, "l": operatorLogin, "p": DefaultPassword}, &c)
	return c.ConfirmOnBehalf.Token, c.ConfirmOnBehalf.Session.ID
}

package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"behalf/app"
	"behalf/config"
	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/metrics"
	"behalf/security"
	"behalf/servicetoken"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"gorm.io/gorm"
)

// scrape reads /metrics through the handler the CLI serves on BEHALF_METRICS_ADDR.
func scrape(t *testing.T, env *apptest.Env) string {
	t.Helper()
	w := httptest.NewRecorder()
	env.App.Metrics.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", w.Code, w.Body.String())
	}
	return w.Body.String()
}

// value reads one sample; a counter never moved reads 0.
func value(env *apptest.Env, name string, labels map[string]string) float64 {
	v, err := metrics.Read(env.App.Metrics.Gatherer(), name, labels)
	if err != nil {
		return 0
	}
	return v
}

// TestMetricsShowOnBehalfSessionAndCountersMove is the "what it must show" for /metrics: the
// login-on-behalf session is counted while it lives, and the request, login-failure and token-exchange
// counters move.
func TestMetricsShowOnBehalfSessionAndCountersMove(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db, func(c *config.Config) { c.ServiceAudiences = []string{"erp"} })
		live := func(kind string) float64 {
			scrape(t, env) // the gauge is computed per scrape; the text must render too
			return value(env, "behalf_sessions_live", map[string]string{"kind": kind})
		}
		_, supportTok := env.UserWithToken("sue.support", security.RoleSupport)
		customer := env.CreateUser("carl.customer", []string{security.RoleCustomer}, nil)
		if n := live("on_behalf"); n != 0 {
			t.Fatalf("on-behalf sessions before: %v", n)
		}
		obTok, _ := env.OnBehalf(supportTok, "sue.support", customer.ID, "call 17")
		if n := live("on_behalf"); n != 1 {
			t.Errorf("on-behalf sessions while acting: %v, want 1", n)
		}
		if n := live("ordinary"); n != 1 {
			t.Errorf("ordinary sessions: %v, want 1 (the support user's own)", n)
		}

		failures := map[string]string{"reason": security.ReasonBadPassword}
		before := value(env, "behalf_login_failures_total", failures)
		r := env.Do("", `mutation SignIn { login(login: "sue.support", password: "wrong") { token } }`, nil)
		if r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("wrong password: %s", r.Raw)
		}
		if got := value(env, "behalf_login_failures_total", failures); got != before+1 {
			t.Errorf("login failures %v → %v, want +1", before, got)
		}
		signIn := map[string]string{"operation": "SignIn", "type": "mutation", "code": "UNAUTHENTICATED"}
		if got := value(env, "behalf_graphql_requests_total", signIn); got != 1 {
			t.Errorf("requests %v = %v, want 1", signIn, got)
		}
		if got := value(env, "behalf_graphql_request_duration_seconds", map[string]string{"operation": "SignIn"}); got != 1 {
			t.Errorf("latency samples of SignIn = %v, want 1", got)
		}

		f := url.Values{"grant_type": {servicetoken.GrantType}, "subject_token": {obTok},
			"subject_token_type": {servicetoken.AccessTokenType}, "audience": {"erp"}}
		if w := env.HTTP(apptest.Request{Path: "/oauth/token", Body: strings.NewReader(f.Encode()),
			Headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}); w.Code != http.StatusOK {
			t.Fatalf("token exchange: %d %s", w.Code, w.Body.String())
		}
		if got := value(env, "behalf_token_exchanges_total", map[string]string{"result": "issued"}); got != 1 {
			t.Errorf("token exchanges issued = %v, want 1", got)
		}

		env.MustDo(obTok, `mutation { endOnBehalf }`, nil, nil)
		if n := live("on_behalf"); n != 0 {
			t.Errorf("on-behalf sessions after it ended: %v, want 0", n)
		}
		text := scrape(t, env)
		for _, name := range []string{"go_sql_open_connections", "behalf_password_hash_queue",
			"behalf_password_hashes_in_progress", "behalf_http_request_duration_seconds_bucket"} {
			if !strings.Contains(text, name) {
				t.Errorf("/metrics lacks %s", name)
			}
		}
	})
}

// TestErrorsCarryRequestIDAndAccessLogCodes checks that every error names the request id (GraphQL
// errors and transport refusals alike), that CORS exposes the header, and that the access log line
// has the error codes, the operation type and a duration with its unit.
func TestErrorsCarryRequestIDAndAccessLogCodes(t *testing.T) {
	t.Parallel()
	env := apptest.New(t, dbtest.SQLite(t), func(c *config.Config) { c.CORSOrigins = []string{"https://shop.example"} })
	r := env.Do("", `query Orders { orders { totalCount } }`, nil)
	rid := r.Header.Get("X-Request-Id")
	if r.Code() != "UNAUTHENTICATED" || rid == "" || r.Errors[0].Extensions["requestId"] != rid {
		t.Errorf("GraphQL error %s with X-Request-Id %q: want extensions.requestId", r.Raw, rid)
	}
	w := env.HTTP(apptest.Request{Path: "/graphql", Body: strings.NewReader(`{"query":"{ me { id } }"}`),
		Headers: map[string]string{"Content-Type": "application/json", "Authorization": "Bearer bhs_unknown", "X-Request-Id": "req-42"}})
	tr := apptest.ParseRecorder(t, w)
	// The request id is always the server's own; the client's X-Request-Id is kept apart (issue 12).
	if sid := w.Header().Get("X-Request-Id"); w.Code != http.StatusUnauthorized || sid == "" || sid == "req-42" || tr.Errors[0].Extensions["requestId"] != sid {
		t.Errorf("transport refusal %d %s with X-Request-Id %q: want the server's id in extensions.requestId", w.Code, tr.Raw, sid)
	}
	w = env.HTTP(apptest.Request{Path: "/graphql", Body: strings.NewReader(`{"query":"{ __typename }"}`),
		Headers: map[string]string{"Content-Type": "application/json", "Origin": "https://shop.example"}})
	if got := w.Header().Get("Access-Control-Expose-Headers"); !strings.Contains(got, "X-Request-Id") {
		t.Errorf("Access-Control-Expose-Headers = %q, want X-Request-Id", got)
	}

	var line map[string]any
	for _, l := range strings.Split(env.Logs.String(), "\n") {
		if strings.Contains(l, `"operation":"Orders"`) {
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatal(err)
			}
		}
	}
	codes, _ := line["error_codes"].([]any)
	if line["operation_type"] != "query" || len(codes) != 1 || codes[0] != "UNAUTHENTICATED" {
		t.Errorf("access log line %v: want operation_type query and error_codes [UNAUTHENTICATED]", line)
	}
	if _, ok := line["duration_ms"].(float64); !ok {
		t.Errorf("access log line %v: want duration_ms", line)
	}
}

// TestTracingOnBehalfSpans records spans in memory (no exporter, no network): the HTTP span, the
// GraphQL operation span of a login-on-behalf request carry the operator and the subject, and SQL
// statements become spans without their bound values.
func TestTracingOnBehalfSpans(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	env := apptest.NewWith(t, dbtest.SQLite(t), []app.Option{app.WithTracerProvider(tp)})
	support, supportTok := env.UserWithToken("sue.support", security.RoleSupport)
	customer := env.CreateUser("carl.customer", []string{security.RoleCustomer}, nil)
	obTok, _ := env.OnBehalf(supportTok, "sue.support", customer.ID, "call 18")
	env.MustDo(obTok, `query Me { me { id } }`, nil, nil)

	attrs := func(s sdktrace.ReadOnlySpan) map[attribute.Key]string {
		m := map[attribute.Key]string{}
		for _, kv := range s.Attributes() {
			m[kv.Key] = kv.Value.Emit()
		}
		return m
	}
	var httpSpan, opSpan, sqlSpan bool
	for _, s := range rec.Ended() {
		a := attrs(s)
		onBehalf := a["behalf.operator_id"] == support.ID && a["behalf.subject_id"] == customer.ID
		switch {
		case s.Name() == "POST /graphql" && onBehalf:
			httpSpan = true
		case s.Name() == "graphql.query Me" && onBehalf:
			opSpan = true
		case a["db.statement"] != "":
			sqlSpan = true
		}
		for k, v := range a {
			if strings.Contains(v, "bhs_") || strings.Contains(v, obTok) {
				t.Errorf("span %s attribute %s carries a token", s.Name(), k)
			}
		}
	}
	if !httpSpan || !opSpan || !sqlSpan {
		t.Errorf("spans: http on behalf %v, operation on behalf %v, sql %v; want all", httpSpan, opSpan, sqlSpan)
	}
}

// TestAuditWriteFailuresAreCounted makes the database refuse audit events: the mutation fails, and
// behalf_audit_write_failures_total moves.
func TestAuditWriteFailuresAreCounted(t *testing.T) {
	t.Parallel()
	db := dbtest.SQLite(t)
	env := apptest.New(t, db)
	_, tok := env.UserWithToken("carl.customer", security.RoleCustomer)
	if err := db.Callback().Create().Before("gorm:create").Register("test:refuse_audit", func(tx *gorm.DB) {
		if tx.Statement.Table == "audit_events" {
			_ = tx.AddError(errors.New("audit refused by test"))
		}
	}); err != nil {
		t.Fatal(err)
	}
	if r := env.Do(tok, `mutation { logout }`, nil); r.Code() != "INTERNAL_SERVER_ERROR" {
		t.Fatalf("logout with the audit refused: %s, want INTERNAL_SERVER_ERROR", r.Raw)
	}
	if got := value(env, "behalf_audit_write_failures_total", nil); got < 1 {
		t.Errorf("audit write failures = %v, want ≥ 1", got)
	}
}

// TestMetricsShowOutboxLagAndDeadLetters checks the outbox gauges: an undelivered webhook is pending
// with a lag that grows on the clock, and once its last attempt fails it is a dead letter.
func TestMetricsShowOutboxLagAndDeadLetters(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
		}))
		defer down.Close()
		env := apptest.New(t, db, func(c *config.Config) { c.WebhookAllowPrivate, c.WebhookMaxAttempts = true, 1 })
		_, adminTok := env.UserWithToken("ada.admin", security.RoleAdministrator)
		_, supportTok := env.UserWithToken("sue.support", security.RoleSupport)
		customer := env.CreateUser("carl.customer", []string{security.RoleCustomer}, nil)
		env.MustDo(adminTok, `mutation($u:String!){ createWebhookEndpoint(input:{url:$u, events:["onbehalf.started"]}){ secret } }`,
			map[string]any{"u": down.URL + "/hooks"}, nil)
		env.OnBehalf(supportTok, "sue.support", customer.ID, "call 19")
		env.Clock.Advance(30 * time.Second)
		scrape(t, env)
		if p, lag := value(env, "behalf_outbox_pending", nil), value(env, "behalf_outbox_lag_seconds", nil); p != 1 || lag != 30 {
			t.Errorf("before delivery: pending %v, lag %vs; want 1, 30", p, lag)
		}
		if _, err := env.App.Integrations.DeliverDue(context.Background()); err != nil {
			t.Fatal(err)
		}
		scrape(t, env)
		if p, dead := value(env, "behalf_outbox_pending", nil), value(env, "behalf_outbox_dead_letters", nil); p != 0 || dead != 1 {
			t.Errorf("after the last attempt failed: pending %v, dead letters %v; want 0, 1", p, dead)
		}
	})
}

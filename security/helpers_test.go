package security_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"behalf/internal/apptest"
	"behalf/model"
	"behalf/security"

	"gorm.io/gorm"
)

// sessionOf returns the stored session behind a token.
func sessionOf(t testing.TB, env *apptest.Env, token string) *model.Session {
	t.Helper()
	var s model.Session
	if err := env.DB.First(&s, "token_hash = ?", security.HashToken(token)).Error; err != nil {
		t.Fatalf("session of token: %v", err)
	}
	return &s
}

// openOnBehalf opens a login-on-behalf session in customer's account, operated by staff from their
// session staffToken, exactly as confirmOnBehalf does; it returns the scoped token and its session.
func openOnBehalf(t testing.TB, env *apptest.Env, staff *model.User, staffToken string, customer *model.User, reason string) (string, *model.Session) {
	t.Helper()
	opt := env.App.Security.Options()
	res, err := env.App.Security.NewSession(context.Background(), security.NewSessionInput{
		User: customer, Operator: staff, Parent: sessionOf(t, env, staffToken), Reason: reason,
		TTL: opt.OnBehalfTTL, Idle: opt.OnBehalfIdle,
	})
	if err != nil {
		t.Fatalf("open login-on-behalf session: %v", err)
	}
	return res.Token, res.Session
}

// alive reports whether a token still authenticates a request.
func alive(t testing.TB, env *apptest.Env, token string) bool {
	t.Helper()
	r := env.Do(token, `{ me { id } }`, nil)
	switch r.Code() {
	case "":
		return true
	case "UNAUTHENTICATED":
		return false
	}
	t.Fatalf("unexpected answer: %s", r.Raw)
	return false
}

// sessionView is a Session as the API shows it.
type sessionView struct {
	ID       string
	User     struct{ Login string }
	Operator *struct{ Login string }
	// OperatorName is what the customer sees of the operator (Operator is null for them).
	OperatorName *string
	OnBehalf     bool
	Reason       *string
	IP           string
	Current      bool
	Created      time.Time `json:"createdAt"`
	LastSeen     time.Time `json:"lastSeenAt"`
	Expires      time.Time `json:"expiresAt"`
}

const sessionFields = `id user { login } operator { login } operatorName onBehalf reason ip current createdAt lastSeenAt expiresAt`

func mySessions(t testing.TB, env *apptest.Env, token string) []sessionView {
	t.Helper()
	var out struct{ MySessions []sessionView }
	env.MustDo(token, `{ mySessions { `+sessionFields+` } }`, nil, &out)
	return out.MySessions
}

func ids(ss []sessionView) string {
	var b []string
	for _, s := range ss {
		b = append(b, s.ID)
	}
	return strings.Join(b, ",")
}

func find(ss []sessionView, id string) *sessionView {
	for i := range ss {
		if ss[i].ID == id {
			return &ss[i]
		}
	}
	return nil
}

// countUpdates counts the UPDATE statements that reach table from now on.
func countUpdates(t testing.TB, db *gorm.DB, table string) *atomic.Int64 {
	t.Helper()
	n := &atomic.Int64{}
	name := fmt.Sprintf("test:count_%s_%p", table, n)
	err := db.Callback().Update().After("gorm:update").Register(name, func(tx *gorm.DB) {
		if tx.Statement.Table == table && tx.Error == nil && tx.Statement.RowsAffected > 0 {
			n.Add(1)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// generateKey creates an API key through the API and returns its secret and id.
func generateKey(t testing.TB, env *apptest.Env, token, name string, expiresAt *time.Time) (secret, id string) {
	t.Helper()
	var out struct {
		GenerateAPIKey struct {
			Secret string
			APIKey struct{ ID string } `json:"apiKey"`
		} `json:"generateApiKey"`
	}
	vars := map[string]any{"n": name}
	if expiresAt != nil {
		vars["e"] = expiresAt.Format(time.RFC3339)
	}
	env.MustDo(token, `mutation($n:String!,$e:Time){ generateApiKey(name:$n, expiresAt:$e){ secret apiKey { id } } }`, vars, &out)
	return out.GenerateAPIKey.Secret, out.GenerateAPIKey.APIKey.ID
}

// auditDump renders every audit row, for scanning it for secrets.
func auditDump(env *apptest.Env) string {
	var b strings.Builder
	for _, ev := range env.AuditEvents() {
		fmt.Fprintf(&b, "%+v\n", ev)
	}
	return b.String()
}

// checkEvents asserts how many SUCCESS and FAILURE events an action recorded (failures carrying their
// error code), runs check on each, and returns them oldest first.
func checkEvents(t testing.TB, env *apptest.Env, action string, successes, failures int, check func(ev model.AuditEvent)) []model.AuditEvent {
	t.Helper()
	evs := env.EventsWithAction(action)
	var s, f int
	for _, ev := range evs {
		switch ev.Outcome {
		case "SUCCESS":
			s++
		case "FAILURE":
			f++
			if ev.ErrorCode == "" {
				t.Errorf("%s failure without an error code: %+v", action, ev)
			}
		}
		if check != nil {
			check(ev)
		}
	}
	if s != successes || f != failures {
		t.Errorf("%s: %d successes and %d failures, want %d and %d", action, s, f, successes, failures)
	}
	return evs
}

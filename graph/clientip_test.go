package graph_test

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"net/netip"
	"testing"

	"behalf/config"
	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/security"
)

// TestClientIdentityBehindProxies checks which address the audit trail records: the connection's,
// unless it is a trusted proxy, whose X-Forwarded-For / Forwarded then names the client; and that the
// audit requestId is the server's id, with the client's X-Request-Id kept apart, sanitized.
func TestClientIdentityBehindProxies(t *testing.T) {
	t.Parallel()
	db := dbtest.SQLite(t)
	env := apptest.New(t, db, func(c *config.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	env.CreateUser("ip.user", []string{security.RoleCustomer}, nil)
	for _, tc := range []struct {
		name, remote, clientRID string
		headers                 map[string]string
		wantIP, wantClientRID   string
	}{
		{"direct, spoofed header ignored", "198.51.100.7:5000", "corr-1", map[string]string{"X-Forwarded-For": "203.0.113.9"}, "198.51.100.7", "corr-1"},
		{"via trusted proxy", "10.1.2.3:5000", "", map[string]string{"X-Forwarded-For": "1.2.3.4, 203.0.113.9, 10.9.9.9"}, "203.0.113.9", ""},
		{"Forwarded header", "10.1.2.3:5000", "bad id with spaces\r\nX: y", map[string]string{"Forwarded": `for="[2001:db8::7]:4711";proto=https`}, "2001:db8::7", ""},
	} {
		body, _ := json.Marshal(map[string]any{"query": wrongLogin, "variables": map[string]any{"l": "ip.user", "p": "wrong password " + tc.name}})
		r := httptest.NewRequest("POST", "/graphql", bytes.NewReader(body))
		r.RemoteAddr = tc.remote
		r.Header.Set("Content-Type", "application/json")
		if tc.clientRID != "" {
			r.Header["X-Request-Id"] = []string{tc.clientRID}
		}
		for k, v := range tc.headers {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		env.App.Handler.ServeHTTP(w, r)
		evs := env.AuditEvents()
		ev := evs[len(evs)-1]
		if ev.IP != tc.wantIP || ev.ClientRequestID != tc.wantClientRID || ev.RequestID != w.Header().Get("X-Request-Id") || ev.RequestID == tc.clientRID {
			t.Errorf("%s: ip %q client id %q request id %q (header %q)", tc.name, ev.IP, ev.ClientRequestID, ev.RequestID, w.Header().Get("X-Request-Id"))
		}
	}
}

// TestOnBehalfReasonRefusesLineBreaks: CR/LF and control characters in the login-on-behalf reason
// are refused (they could forge lines in logs and exports); an ordinary reason is accepted.
func TestOnBehalfReasonRefusesLineBreaks(t *testing.T) {
	t.Parallel()
	env := apptest.New(t, dbtest.SQLite(t))
	_, admin := env.UserWithToken("reason.admin", security.RoleAdministrator)
	customer := env.CreateUser("reason.customer", []string{security.RoleCustomer}, nil)
	const q = `mutation($u:ID!,$r:String){ loginOnBehalf(userId:$u, reason:$r){ ticket } }`
	for _, r := range []string{"ticket 1\r\nFAKE audit line", "tab\there", "bell\x07"} {
		res := env.Do(admin, q, map[string]any{"u": customer.ID, "r": r})
		if res.Code() != "BAD_USER_INPUT" || res.Errors[0].Extensions["field"] != "reason" {
			t.Errorf("%q: %s", r, res.Raw)
		}
	}
	env.MustDo(admin, q, map[string]any{"u": customer.ID, "r": "ticket #4711: cart will not check out"}, nil)
}

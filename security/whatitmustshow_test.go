package security_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/security"

	"gorm.io/gorm"
)

// TestSessionsAndAPIKeysWhatItMustShow is the "what it must show", end to end over HTTP:
//   - a customer sees in mySessions the login-on-behalf session a support agent opened in their
//     account, with the agent as operator, and revokes it: the agent's scoped token then answers
//     UNAUTHENTICATED (the agent's own session lives on);
//   - an administrator lists and revokes any user's sessions;
//   - changePassword kills the user's other sessions;
//   - an API key works as a bearer token for queries, is refused for loginOnBehalf (FORBIDDEN), in a
//     query string (400) and after revokeApiKey (UNAUTHENTICATED), and its secret is never shown again:
//     not by apiKeys, not in logs, not in audit rows (nor is any password or token).
func TestSessionsAndAPIKeysWhatItMustShow(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		customer, laptop := env.UserWithToken("carla.customer", security.RoleCustomer)
		phone := env.Login("carla.customer", apptest.DefaultPassword)
		agent, agentTok := env.UserWithToken("sally.support", security.RoleSupport)
		_, adminTok := env.UserWithToken("root.admin", security.RoleAdministrator)
		secrets := []string{apptest.DefaultPassword, laptop, phone, agentTok, adminTok}

		// 1. The customer sees the agent's session in their account and revokes it.
		scoped, ob := openOnBehalf(t, env, agent, agentTok, customer, "customer called about order 1042")
		secrets = append(secrets, scoped)
		var cart struct{ Me struct{ Login string } }
		env.MustDo(scoped, `{ me { login } }`, nil, &cart)
		if cart.Me.Login != "carla.customer" {
			t.Fatalf("scoped session acts as %q", cart.Me.Login)
		}
		seen := find(mySessions(t, env, laptop), ob.ID)
		if seen == nil || !seen.OnBehalf || seen.Operator != nil || seen.OperatorName == nil || *seen.OperatorName != "sally.support" ||
			seen.Reason == nil || *seen.Reason != "customer called about order 1042" {
			t.Fatalf("customer's view of the agent's session: %+v", seen)
		}
		env.MustDo(laptop, `mutation($id:ID!){ revokeSession(id:$id) }`, map[string]any{"id": ob.ID}, nil)
		if r := env.Do(scoped, `{ me { login } }`, nil); r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("agent's scoped token after the customer revoked it: %s", r.Raw)
		}
		if !alive(t, env, agentTok) {
			t.Fatal("the agent's own session died with the scoped one")
		}

		// 2. The administrator lists and revokes any user's sessions.
		var listed struct{ Sessions []sessionView }
		env.MustDo(adminTok, `query($u:ID!){ sessions(userId:$u){ `+sessionFields+` } }`, map[string]any{"u": customer.ID}, &listed)
		if len(listed.Sessions) != 2 || find(listed.Sessions, sessionOf(t, env, phone).ID) == nil {
			t.Fatalf("administrator lists %s", ids(listed.Sessions))
		}
		env.MustDo(adminTok, `mutation($id:ID!){ revokeSession(id:$id) }`, map[string]any{"id": sessionOf(t, env, phone).ID}, nil)
		if alive(t, env, phone) || !alive(t, env, laptop) {
			t.Fatal("administrator's revokeSession: wrong sessions ended")
		}
		var all struct{ RevokeAllSessions int }
		env.MustDo(adminTok, `mutation($u:ID!){ revokeAllSessions(userId:$u) }`, map[string]any{"u": agent.ID}, &all)
		if all.RevokeAllSessions != 1 || alive(t, env, agentTok) {
			t.Fatalf("revokeAllSessions(agent) = %d", all.RevokeAllSessions)
		}

		// 3. changePassword kills the user's other sessions.
		const newPassword = "tulip ledger 4 windmills"
		secrets = append(secrets, newPassword)
		phone = env.Login("carla.customer", apptest.DefaultPassword)
		secrets = append(secrets, phone)
		env.MustDo(laptop, `mutation($c:String!,$n:String!){ changePassword(currentPassword:$c, newPassword:$n) }`,
			map[string]any{"c": apptest.DefaultPassword, "n": newPassword}, nil)
		if alive(t, env, phone) || !alive(t, env, laptop) {
			t.Fatal("changePassword: wrong sessions ended")
		}

		// 4. An API key: a bearer token for queries, never for login on behalf, never in a URL, dead once
		// revoked, its secret shown once. (The agent's key: the agent may log in on behalf, the key may not.)
		agentTok = env.Login("sally.support", apptest.DefaultPassword)
		secrets = append(secrets, agentTok)
		key, keyID := generateKey(t, env, agentTok, "helpdesk bot", nil)
		secrets = append(secrets, key, strings.TrimPrefix(key, "bhk_"))
		var viaKey struct {
			Me    struct{ Login string }
			Users struct{ TotalCount int }
		}
		env.MustDo(key, `{ me { login } users(search:"carla") { totalCount } }`, nil, &viaKey)
		if viaKey.Me.Login != "sally.support" || viaKey.Users.TotalCount != 1 {
			t.Fatalf("query with the key: %+v", viaKey)
		}
		r := env.Do(key, fmt.Sprintf(`mutation { loginOnBehalf(userId:%q, reason:"bot") { ticket } }`, customer.ID), nil)
		if r.Code() != "FORBIDDEN" {
			t.Fatalf("loginOnBehalf with a key: %s", r.Raw)
		}
		w := env.HTTP(apptest.Request{Method: http.MethodGet, Path: "/graphql?query=" + url.QueryEscape("{ me { login } }") + "&access_token=" + url.QueryEscape(key)})
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "Authorization header") {
			t.Fatalf("key in a query string: %d %s", w.Code, w.Body.String())
		}
		if r := env.Do(agentTok, `{ apiKeys { id secret } }`, nil); r.Code() != "GRAPHQL_VALIDATION_FAILED" {
			t.Fatalf("apiKeys offers the secret: %s", r.Raw)
		}
		var keys struct {
			APIKeys []map[string]any `json:"apiKeys"`
		}
		env.MustDo(agentTok, `{ apiKeys { id name prefix createdAt expiresAt lastUsedAt } }`, nil, &keys)
		if len(keys.APIKeys) != 1 || keys.APIKeys[0]["prefix"] != key[:12] || strings.Contains(fmt.Sprint(keys.APIKeys), key[12:]) {
			t.Fatalf("apiKeys shows %v", keys.APIKeys)
		}
		env.MustDo(agentTok, `mutation($id:ID!){ revokeApiKey(id:$id) }`, map[string]any{"id": keyID}, nil)
		if r := env.Do(key, `{ me { login } }`, nil); r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("revoked key: %s", r.Raw)
		}

		// The record: every action audited; no secret in the logs or any audit row.
		for _, action := range []string{"session.revoke", "session.revokeAll", "auth.password.change", "apikey.generate", "apikey.revoke"} {
			if len(env.EventsWithAction(action)) == 0 {
				t.Errorf("no %s event", action)
			}
		}
		logs, rows := env.Logs.String(), auditDump(env)
		if !strings.Contains(logs, `"api_key_id"`) {
			t.Fatal("requests made with the key were not logged")
		}
		for _, s := range secrets {
			if strings.Contains(logs, s) {
				t.Errorf("secret %.12s… in the logs", s)
			}
			if strings.Contains(rows, s) {
				t.Errorf("secret %.12s… in an audit row", s)
			}
		}
	})
}

package security_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"behalf/apperr"
	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/model"
	"behalf/security"

	"gorm.io/gorm"
)

// TestGenerateAPIKey: the secret is bhk_ + 256 random bits, returned once and stored only as its
// SHA-256; the visible prefix identifies it; listing never shows it.
func TestGenerateAPIKey(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		owner, tok := env.UserWithToken("ian.integrator", security.RoleCustomer)
		exp := apptest.Start.Add(30 * 24 * time.Hour)
		secret, id := generateKey(t, env, tok, "  ERP sync  ", &exp)

		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(secret, "bhk_"))
		if !strings.HasPrefix(secret, "bhk_") || err != nil || len(raw)*8 < 128 {
			t.Fatalf("secret %q: not bhk_ + ≥128 random bits (%v)", secret, err)
		}
		var row model.APIKey
		dbtest.Must(t, db.First(&row, "id = ?", id))
		if row.UserID != owner.ID || row.Name != "ERP sync" || row.Prefix != secret[:12] || !row.ExpiresAt.Equal(exp) ||
			!bytes.Equal(row.SecretHash, security.HashToken(secret)) || row.LastUsedAt != nil || row.RevokedAt != nil {
			t.Errorf("stored key %+v", row)
		}
		if strings.Contains(fmt.Sprintf("%+v", row), strings.TrimPrefix(secret, "bhk_")) {
			t.Error("the secret is stored in clear")
		}

		var list struct {
			APIKeys []struct {
				ID, Name, Prefix string
				CreatedAt        time.Time
				ExpiresAt        *time.Time
				LastUsedAt       *time.Time
			} `json:"apiKeys"`
		}
		env.MustDo(tok, `{ apiKeys { id name prefix createdAt expiresAt lastUsedAt } }`, nil, &list)
		if len(list.APIKeys) != 1 || list.APIKeys[0].ID != id || list.APIKeys[0].Prefix != secret[:12] ||
			!list.APIKeys[0].CreatedAt.Equal(apptest.Start) || list.APIKeys[0].LastUsedAt != nil {
			t.Errorf("apiKeys %+v", list.APIKeys)
		}
		// There is no way to ask for the secret again.
		if r := env.Do(tok, `{ apiKeys { secret } }`, nil); r.Code() != "GRAPHQL_VALIDATION_FAILED" {
			t.Errorf("apiKeys { secret }: %s", r.Raw)
		}
		// Other users do not see it.
		_, other := env.UserWithToken("otto.other", security.RoleCustomer)
		env.MustDo(other, `{ apiKeys { id } }`, nil, &list)
		if len(list.APIKeys) != 0 {
			t.Errorf("another user lists %+v", list.APIKeys)
		}
		if evs := env.EventsWithAction("apikey.generate"); len(evs) != 1 || evs[0].Outcome != "SUCCESS" ||
			evs[0].SubjectID == nil || *evs[0].SubjectID != owner.ID || strings.Contains(evs[0].Arguments, secret) {
			t.Errorf("apikey.generate events %+v", evs)
		}
	})
}

// TestGenerateAPIKeyInput: name 1–100 characters, expiresAt in the future (fake clock), and who may.
func TestGenerateAPIKeyInput(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		customer, tok := env.UserWithToken("ian.integrator", security.RoleCustomer)
		staff, staffTok := env.UserWithToken("sally.support", security.RoleSupport)
		obTok, _ := openOnBehalf(t, env, staff, staffTok, customer, "call")
		keyTok, _ := generateKey(t, env, tok, "first", nil)
		now := apptest.Start
		for _, tc := range []struct {
			name, token, keyName string
			expires              any
			code, field          string
		}{
			{"empty name", tok, "", nil, "BAD_USER_INPUT", "name"},
			{"blank name", tok, "   ", nil, "BAD_USER_INPUT", "name"},
			{"101 characters", tok, strings.Repeat("é", 101), nil, "BAD_USER_INPUT", "name"},
			{"control character", tok, "bad\nname", nil, "BAD_USER_INPUT", "name"},
			{"100 characters", tok, strings.Repeat("é", 100), nil, "", ""},
			{"expires in the past", tok, "old", now.Add(-time.Second).Format(time.RFC3339), "BAD_USER_INPUT", "expiresAt"},
			{"expires now", tok, "now", now.Format(time.RFC3339), "BAD_USER_INPUT", "expiresAt"},
			{"expires in a second", tok, "soon", now.Add(time.Second).Format(time.RFC3339), "", ""},
			{"malformed time", tok, "bad", "tomorrow", "BAD_USER_INPUT", ""},
			{"inside an on-behalf session", obTok, "sneaky", nil, "FORBIDDEN", ""},
			{"with an API key", keyTok, "chained", nil, "FORBIDDEN", ""},
			{"anonymous", "", "anon", nil, "UNAUTHENTICATED", ""},
		} {
			r := env.Do(tc.token, `mutation($n:String!,$e:Time){ generateApiKey(name:$n, expiresAt:$e){ apiKey { id } } }`,
				map[string]any{"n": tc.keyName, "e": tc.expires})
			if r.Code() != tc.code || (tc.field != "" && r.Errors[0].Extensions["field"] != tc.field) {
				t.Errorf("%s: %s, want %q on %q", tc.name, r.Raw, tc.code, tc.field)
			}
		}
		var n int64
		dbtest.Must(t, db.Model(&model.APIKey{}).Count(&n))
		if n != 3 {
			t.Errorf("%d keys, want 3", n)
		}
	})
}

// TestAPIKeyCap: at most security.MaxLiveAPIKeys live keys per user (CONFLICT beyond); revoked and expired
// keys do not count; concurrent requests cannot pass the cap together.
func TestAPIKeyCap(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		owner, tok := env.UserWithToken("ian.integrator", security.RoleCustomer)
		past := apptest.Start.Add(-time.Hour)
		plant := func(n int, revoked, expired bool) {
			for i := 0; i < n; i++ {
				k := model.APIKey{ID: model.NewID(), UserID: owner.ID, Name: "planted", Prefix: "bhk_planted",
					SecretHash: security.HashToken(model.NewID()), CreatedAt: past}
				if revoked {
					k.RevokedAt = &past
				}
				if expired {
					k.ExpiresAt = &past
				}
				if err := db.Create(&k).Error; err != nil {
					t.Fatal(err)
				}
			}
		}
		plant(3, true, false)
		plant(3, false, true)
		plant(security.MaxLiveAPIKeys-5, false, false)

		gen := `mutation { generateApiKey(name:"one more") { apiKey { id } } }`
		const attempts = 6
		codes := make([]string, attempts)
		errs := make([]error, attempts)
		var wg sync.WaitGroup
		for i := range codes {
			wg.Add(1)
			go func() { // no t.Fatal off the test's goroutine: errors are checked after Wait
				defer wg.Done()
				res, err := env.TryDo(tok, gen, nil)
				if err != nil {
					errs[i] = err
					return
				}
				codes[i] = res.Code()
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("attempt %d: %v", i, err)
			}
		}
		ok, conflict := 0, 0
		for _, c := range codes {
			switch c {
			case "":
				ok++
			case "CONFLICT":
				conflict++
			}
		}
		if ok != 5 || conflict != 1 {
			t.Fatalf("concurrent generation past the cap: codes %q, want 5 successes and 1 CONFLICT", codes)
		}
		var live int64
		dbtest.Must(t, db.Model(&model.APIKey{}).Where("user_id = ? AND revoked_at IS NULL AND expires_at IS NULL", owner.ID).Count(&live))
		if live != security.MaxLiveAPIKeys {
			t.Errorf("%d live keys, want %d", live, security.MaxLiveAPIKeys)
		}
		// Revoking one makes room again.
		var list struct {
			APIKeys []struct{ ID string } `json:"apiKeys"`
		}
		env.MustDo(tok, `{ apiKeys { id } }`, nil, &list)
		if len(list.APIKeys) != security.MaxLiveAPIKeys+3 { // the expired ones are listed, revoked ones not
			t.Errorf("apiKeys lists %d", len(list.APIKeys))
		}
		env.MustDo(tok, `mutation($id:ID!){ revokeApiKey(id:$id) }`, map[string]any{"id": list.APIKeys[0].ID}, nil)
		env.MustDo(tok, gen, nil, nil)
	})
}

// TestAPIKeyAuthentication: a key is a bearer credential acting with its owner's permissions, refused in
// a query string, for login on behalf and for managing keys and sessions, and dead once revoked, expired
// or while its owner is locked.
func TestAPIKeyAuthentication(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		admin, adminTok := env.UserWithToken("root.admin", security.RoleAdministrator)
		customer, custTok := env.UserWithToken("carla.customer", security.RoleCustomer)
		key, keyID := generateKey(t, env, adminTok, "ops", nil)
		custKey, _ := generateKey(t, env, custTok, "shop sync", nil)

		// The owner's permissions, and no session.
		var me struct {
			Me      struct{ Login string }
			Session *struct{ ID string }
			Users   struct{ TotalCount int }
		}
		env.MustDo(key, `{ me { login } session { id } users { totalCount } }`, nil, &me)
		if me.Me.Login != "root.admin" || me.Session != nil || me.Users.TotalCount != 2 {
			t.Errorf("as the admin's key: %+v", me)
		}
		if r := env.Do(custKey, `{ users { totalCount } }`, nil); r.Code() != "FORBIDDEN" {
			t.Errorf("customer's key reads users: %s", r.Raw)
		}
		// A key can run ordinary mutations of its owner.
		env.MustDo(key, `mutation { createOrganization(input:{name:"Keyed Corp"}) { id } }`, nil, nil)
		if r := env.Do(key, `mutation { logout }`, nil); r.Code() != "" || !strings.Contains(r.Raw, `"logout":false`) {
			t.Errorf("logout with a key: %s", r.Raw)
		}

		// Never: login on behalf, managing keys or sessions.
		custSession := sessionOf(t, env, custTok).ID
		for _, op := range []struct{ name, query string }{
			{"loginOnBehalf", fmt.Sprintf(`mutation { loginOnBehalf(userId:%q, reason:"x") { ticket } }`, customer.ID)},
			{"confirmOnBehalf", `mutation { confirmOnBehalf(ticket:"t", login:"root.admin", password:"correct horse battery staple") { token } }`},
			{"mySessions", `{ mySessions { id } }`},
			{"sessions", fmt.Sprintf(`{ sessions(userId:%q) { id } }`, customer.ID)},
			{"revokeSession", fmt.Sprintf(`mutation { revokeSession(id:%q) }`, custSession)},
			{"revokeAllSessions", fmt.Sprintf(`mutation { revokeAllSessions(userId:%q) }`, customer.ID)},
			{"changePassword", `mutation { changePassword(currentPassword:"correct horse battery staple", newPassword:"another long passphrase") }`},
			{"generateApiKey", `mutation { generateApiKey(name:"child") { secret } }`},
			{"apiKeys", `{ apiKeys { id } }`},
			{"revokeApiKey", fmt.Sprintf(`mutation { revokeApiKey(id:%q) }`, keyID)},
			{"setAllowLoginOnBehalf", `mutation { setAllowLoginOnBehalf(allow:false) { id } }`},
		} {
			r := env.Do(key, op.query, nil)
			if r.Code() != "FORBIDDEN" || !strings.Contains(r.Errors[0].Message, "API key") {
				t.Errorf("%s with an API key: %s", op.name, r.Raw)
			}
		}
		if !alive(t, env, custTok) || !alive(t, env, key) {
			t.Fatal("a refused operation had an effect")
		}

		// Never in a query string, whatever the parameter, even beside a valid header.
		body := `{"query":"{ me { login } }"}`
		for _, p := range []string{"access_token", "api_key", "apikey", "token", "key"} {
			w := env.HTTP(apptest.Request{Method: http.MethodGet, Path: "/graphql?query=" + url.QueryEscape("{ me { login } }") + "&" + p + "=" + url.QueryEscape(key)})
			if w.Code != http.StatusBadRequest || strings.Contains(w.Body.String(), "root.admin") {
				t.Errorf("GET ?%s=key: %d %s", p, w.Code, w.Body.String())
			}
			w = env.HTTP(apptest.Request{Path: "/graphql?" + p + "=" + url.QueryEscape(key), Body: strings.NewReader(body),
				Headers: map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + key}})
			if w.Code != http.StatusBadRequest {
				t.Errorf("POST ?%s=key with header: %d %s", p, w.Code, w.Body.String())
			}
		}
		if strings.Contains(env.Logs.String(), key) || strings.Contains(env.Logs.String(), strings.TrimPrefix(key, "bhk_")) {
			t.Error("a key from a query string reached the logs")
		}

		// Revoked: UNAUTHENTICATED at the next request; another user's key is NOT_FOUND.
		revoke := `mutation($id:ID!){ revokeApiKey(id:$id) }`
		if r := env.Do(custTok, revoke, map[string]any{"id": keyID}); r.Code() != "NOT_FOUND" {
			t.Errorf("revoking another user's key: %s", r.Raw)
		}
		if r := env.Do(adminTok, revoke, map[string]any{"id": model.NewID()}); r.Code() != "NOT_FOUND" {
			t.Errorf("revoking a missing key: %s", r.Raw)
		}
		var out struct {
			RevokeAPIKey bool `json:"revokeApiKey"`
		}
		env.MustDo(adminTok, revoke, map[string]any{"id": keyID}, &out)
		if !out.RevokeAPIKey {
			t.Error("revokeApiKey returned false")
		}
		if r := env.Do(key, `{ me { login } }`, nil); r.Code() != "UNAUTHENTICATED" || r.Status != http.StatusUnauthorized {
			t.Errorf("revoked key: %d %s", r.Status, r.Raw)
		}
		env.MustDo(adminTok, revoke, map[string]any{"id": keyID}, &out)
		if out.RevokeAPIKey {
			t.Error("revoking twice returned true")
		}
		var list struct {
			APIKeys []struct{ ID string } `json:"apiKeys"`
		}
		env.MustDo(adminTok, `{ apiKeys { id } }`, nil, &list)
		if len(list.APIKeys) != 0 {
			t.Errorf("revoked key still listed: %+v", list.APIKeys)
		}
		evs := env.EventsWithAction("apikey.revoke")
		if len(evs) != 5 || evs[3].Outcome != "SUCCESS" || evs[3].SubjectID == nil || *evs[3].SubjectID != admin.ID || evs[0].Outcome != "FAILURE" {
			t.Errorf("apikey.revoke events %+v", evs)
		}

		// Expired: works until expiresAt, not at it.
		exp := env.Clock.Now().Add(time.Hour)
		expiring, _ := generateKey(t, env, custTok, "temporary", &exp)
		env.Clock.Advance(time.Hour - time.Second)
		if !alive(t, env, expiring) {
			t.Fatal("key died before expiresAt")
		}
		env.Clock.Advance(time.Second)
		if r := env.Do(expiring, `{ me { login } }`, nil); r.Code() != "UNAUTHENTICATED" {
			t.Errorf("expired key: %s", r.Raw)
		}
		if !alive(t, env, custKey) {
			t.Error("a key without expiry died")
		}
	})
}

// TestAPIKeyLastUsedBatched: using a key writes nothing; the background flush writes lastUsedAt.
func TestAPIKeyLastUsedBatched(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		_, tok := env.UserWithToken("ian.integrator", security.RoleCustomer)
		key, id := generateKey(t, env, tok, "busy", nil)
		writes := countUpdates(t, db, "api_keys")
		lastUsed := func() *time.Time {
			var k model.APIKey
			dbtest.Must(t, db.First(&k, "id = ?", id))
			return k.LastUsedAt
		}
		for i := 0; i < 3; i++ {
			env.Clock.Advance(10 * time.Second)
			if !alive(t, env, key) {
				t.Fatal("key refused")
			}
		}
		if n, lu := writes.Load(), lastUsed(); n != 0 || lu != nil {
			t.Fatalf("requests wrote: %d updates, lastUsedAt %v", n, lu)
		}
		if err := env.App.Security.FlushLastSeen(context.Background()); err != nil {
			t.Fatal(err)
		}
		if lu := lastUsed(); lu == nil || !lu.Equal(env.Clock.Now()) {
			t.Fatalf("after the flush: lastUsedAt %v, want %v", lu, env.Clock.Now())
		}
		var list struct {
			APIKeys []struct{ LastUsedAt *time.Time } `json:"apiKeys"`
		}
		env.MustDo(tok, `{ apiKeys { lastUsedAt } }`, nil, &list)
		if len(list.APIKeys) != 1 || list.APIKeys[0].LastUsedAt == nil || !list.APIKeys[0].LastUsedAt.Equal(env.Clock.Now()) {
			t.Errorf("apiKeys shows %+v", list.APIKeys)
		}
	})
}

// TestDomainRefusesKeysAndOnBehalf: the service itself refuses credential management to API keys and
// (except for reading one's sessions) inside login-on-behalf sessions, whatever the transport.
func TestDomainRefusesKeysAndOnBehalf(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		customer, custTok := env.UserWithToken("carla.customer", security.RoleCustomer)
		staff, staffTok := env.UserWithToken("sally.support", security.RoleSupport)
		_, ob := openOnBehalf(t, env, staff, staffTok, customer, "call")
		admin := env.CreateUser("root.admin", []string{security.RoleAdministrator}, nil)
		viaKey := security.NewIdentity(admin, "") // an administrator's key: permissions are not what refuses
		viaKey.APIKey = &model.APIKey{ID: model.NewID(), UserID: admin.ID}
		onBehalf := security.NewIdentity(customer, "")
		onBehalf.Operator, onBehalf.Session = staff, ob
		svc := env.App.Security
		calls := map[string]func(ctx context.Context) error{
			"MySessions": func(ctx context.Context) error { _, err := svc.MySessions(ctx); return err },
			"Sessions":   func(ctx context.Context) error { _, err := svc.Sessions(ctx, customer.ID); return err },
			"RevokeSession": func(ctx context.Context) error {
				_, _, err := svc.RevokeSession(ctx, sessionOf(t, env, custTok).ID)
				return err
			},
			"RevokeAllSessions": func(ctx context.Context) error { _, _, err := svc.RevokeAllSessions(ctx, customer.ID); return err },
			"ChangePassword": func(ctx context.Context) error {
				return svc.ChangePassword(ctx, apptest.DefaultPassword, "another long passphrase")
			},
			"GenerateAPIKey": func(ctx context.Context) error { _, err := svc.GenerateAPIKey(ctx, "k", nil); return err },
			"APIKeys":        func(ctx context.Context) error { _, err := svc.APIKeys(ctx); return err },
			"RevokeAPIKey":   func(ctx context.Context) error { _, err := svc.RevokeAPIKey(ctx, model.NewID()); return err },
		}
		for name, call := range calls {
			if err := call(security.WithIdentity(context.Background(), viaKey)); apperr.CodeOf(err) != apperr.Forbidden {
				t.Errorf("%s with an API key: %v", name, err)
			}
			err := call(security.WithIdentity(context.Background(), onBehalf))
			// Reading one's sessions is allowed on behalf; Sessions is refused there only for lack of
			// security:read, which a customer never holds.
			if want := name != "MySessions"; (apperr.CodeOf(err) == apperr.Forbidden) != want || (!want && err != nil) {
				t.Errorf("%s on behalf: %v", name, err)
			}
		}
		if !alive(t, env, custTok) {
			t.Error("a refused call ended a session")
		}
	})
}

package graph_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"behalf/config"
	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/model"
	"behalf/security"

	"gorm.io/gorm"
)

// TestPermissionRefusals: every foundation query and mutation refuses anonymous callers with
// UNAUTHENTICATED and customers with FORBIDDEN.
func TestPermissionRefusals(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		_, customer := env.UserWithToken("carla.customer", security.RoleCustomer)
		other := env.CreateUser("otto.other", []string{security.RoleCustomer}, nil)
		ops := []struct{ name, query string }{
			{"organizations", `{ organizations { totalCount } }`},
			{"organization", `{ organization(id:"x") { id } }`},
			{"contacts", `{ contacts(search:"a") { totalCount } }`},
			{"contact", `{ contact(id:"x") { id } }`},
			{"users", `{ users { totalCount } }`},
			{"user", fmt.Sprintf(`{ user(id:%q) { id } }`, other.ID)},
			{"auditEvents", `{ auditEvents { totalCount } }`},
			{"createOrganization", `mutation { createOrganization(input:{name:"X"}) { id } }`},
			{"createContact", `mutation { createContact(input:{firstName:"A", lastName:"B", email:"a@b.example"}) { id } }`},
			{"createUser", `mutation { createUser(input:{login:"newbie", email:"n@b.example", password:"long enough password", roles:["customer"]}) { id } }`},
			{"updateUser", fmt.Sprintf(`mutation { updateUser(input:{id:%q, locked:true}) { id } }`, other.ID)},
		}
		for _, op := range ops {
			if got := env.Do("", op.query, nil).Code(); got != "UNAUTHENTICATED" {
				t.Errorf("%s anonymous: code %q, want UNAUTHENTICATED", op.name, got)
			}
			if got := env.Do(customer, op.query, nil).Code(); got != "FORBIDDEN" {
				t.Errorf("%s as customer: code %q, want FORBIDDEN", op.name, got)
			}
		}
		// logout needs a session.
		if got := env.Do("", `mutation { logout }`, nil).Code(); got != "UNAUTHENTICATED" {
			t.Errorf("logout anonymous: %q", got)
		}
		// Nothing the refused mutations tried exists.
		var n int64
		dbtest.Must(t, db.Model(&model.Organization{}).Count(&n))
		if n != 0 {
			t.Errorf("%d organizations after refused mutations", n)
		}
		var locked model.User
		dbtest.Must(t, db.First(&locked, "id = ?", other.ID))
		if locked.Locked {
			t.Error("refused updateUser locked the user")
		}
	})
}

// TestAdminBuildsDirectory is the foundation's "what it must show": an admin creates an organization,
// a contact and a customer account, finds the contact by a word of its name and sees its account; the
// customer gets FORBIDDEN on users.
func TestAdminBuildsDirectory(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		_, admin := env.UserWithToken("root.admin", security.RoleAdministrator)
		var org struct{ CreateOrganization struct{ ID string } }
		env.MustDo(admin, `mutation { createOrganization(input:{name:"Globex Corporation"}) { id } }`, nil, &org)
		var contact struct{ CreateContact struct{ ID, FullName string } }
		env.MustDo(admin, `mutation($o:ID!) { createContact(input:{firstName:"Hank", lastName:"Scorpio", email:"hank@globex.example", phone:"+1 555 0100", organizationId:$o}) { id fullName } }`,
			map[string]any{"o": org.CreateOrganization.ID}, &contact)
		if contact.CreateContact.FullName != "Hank Scorpio" {
			t.Fatalf("fullName %q", contact.CreateContact.FullName)
		}
		var user struct{ CreateUser struct{ ID, Login string } }
		env.MustDo(admin, `mutation($c:ID!) { createUser(input:{login:"hank", email:"hank@globex.example", password:"volcano lair 2026", roles:["customer"], contactId:$c}) { id login } }`,
			map[string]any{"c": contact.CreateContact.ID}, &user)
		var found struct {
			Contacts struct {
				TotalCount int
				Edges      []struct {
					Node struct {
						FullName     string
						Organization struct{ Name string }
						Accounts     []struct{ Login string }
					}
				}
			}
		}
		env.MustDo(admin, `{ contacts(search:"SCORP") { totalCount edges { node { fullName organization { name } accounts { login } } } } }`, nil, &found)
		if found.Contacts.TotalCount != 1 || found.Contacts.Edges[0].Node.Accounts[0].Login != "hank" ||
			found.Contacts.Edges[0].Node.Organization.Name != "Globex Corporation" {
			t.Fatalf("search result %+v", found)
		}
		customer := env.Login("hank", "volcano lair 2026")
		if got := env.Do(customer, `{ users { totalCount } }`, nil).Code(); got != "FORBIDDEN" {
			t.Fatalf("customer users: %q", got)
		}
		var me struct{ Me struct{ Login string } }
		env.MustDo(customer, `{ me { login } }`, nil, &me)
		if me.Me.Login != "hank" {
			t.Fatalf("me = %q", me.Me.Login)
		}
		// Every mutation left one SUCCESS audit event naming the admin as actor.
		for _, a := range []string{"organization.create", "contact.create", "user.create"} {
			evs := env.EventsWithAction(a)
			if len(evs) != 1 || evs[0].Outcome != "SUCCESS" || evs[0].ActorLogin != "root.admin" {
				t.Errorf("%s events: %+v", a, evs)
			}
		}
	})
}

func TestInputErrorsAndConflicts(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		_, admin := env.UserWithToken("root.admin", security.RoleAdministrator)
		env.CreateUser("taken", []string{security.RoleCustomer}, nil)
		mk := func(login, email, pw, roles string) string {
			return fmt.Sprintf(`mutation { createUser(input:{login:%q, email:%q, password:%q, roles:%s}) { id } }`, login, email, pw, roles)
		}
		cases := []struct {
			name, query, code string
		}{
			{"duplicate login", mk("TAKEN", "fresh@example.com", "long enough password", `["customer"]`), "CONFLICT"},
			{"duplicate email", mk("fresh", "Taken@Example.com", "long enough password", `["customer"]`), "CONFLICT"},
			{"bad login", mk("a b", "x@example.com", "long enough password", `["customer"]`), "BAD_USER_INPUT"},
			{"bad email", mk("fresh", "not-an-email", "long enough password", `["customer"]`), "BAD_USER_INPUT"},
			{"short password", mk("fresh", "x@example.com", "short", `["customer"]`), "BAD_USER_INPUT"},
			{"unknown role", mk("fresh", "x@example.com", "long enough password", `["emperor"]`), "BAD_USER_INPUT"},
			{"no role", mk("fresh", "x@example.com", "long enough password", `[]`), "BAD_USER_INPUT"},
			{"unknown contact", `mutation { createUser(input:{login:"fresh", email:"x@example.com", password:"long enough password", roles:["customer"], contactId:"nope"}) { id } }`, "BAD_USER_INPUT"},
			{"empty org name", `mutation { createOrganization(input:{name:"   "}) { id } }`, "BAD_USER_INPUT"},
			{"long org name", fmt.Sprintf(`mutation { createOrganization(input:{name:%q}) { id } }`, strings.Repeat("x", 201)), "BAD_USER_INPUT"},
			{"contact bad email", `mutation { createContact(input:{firstName:"A", lastName:"B", email:"nope"}) { id } }`, "BAD_USER_INPUT"},
			{"contact bad phone", `mutation { createContact(input:{firstName:"A", lastName:"B", email:"a@b.example", phone:"call me maybe"}) { id } }`, "BAD_USER_INPUT"},
			{"contact unknown org", `mutation { createContact(input:{firstName:"A", lastName:"B", email:"a@b.example", organizationId:"nope"}) { id } }`, "BAD_USER_INPUT"},
			{"update unknown user", `mutation { updateUser(input:{id:"nope", locked:true}) { id } }`, "NOT_FOUND"},
			{"negative first", `{ users(first:-1) { totalCount } }`, "BAD_USER_INPUT"},
			{"bad cursor", `{ users(after:"!!!") { totalCount } }`, "BAD_USER_INPUT"},
			{"bad time", `{ auditEvents(filter:{from:"yesterday"}) { totalCount } }`, "BAD_USER_INPUT"},
			{"parse error", `{ users { `, "GRAPHQL_PARSE_FAILED"},
			{"validation error", `{ users { nope } }`, "GRAPHQL_VALIDATION_FAILED"},
		}
		before := len(env.AuditEvents())
		for _, c := range cases {
			r := env.Do(admin, c.query, nil)
			if r.Code() != c.code {
				t.Errorf("%s: code %q (%s), want %s", c.name, r.Code(), r.Raw, c.code)
			}
		}
		var users, orgs, contacts int64
		dbtest.Must(t, db.Model(&model.User{}).Count(&users))
		dbtest.Must(t, db.Model(&model.Organization{}).Count(&orgs))
		dbtest.Must(t, db.Model(&model.Contact{}).Count(&contacts))
		if users != 2 || orgs != 0 || contacts != 0 {
			t.Errorf("failed mutations left rows: users=%d orgs=%d contacts=%d", users, orgs, contacts)
		}
		// Each failed mutation is on record as a FAILURE with its code.
		fails := 0
		for _, ev := range env.AuditEvents()[before:] {
			if ev.Outcome == "FAILURE" {
				fails++
				if ev.ErrorCode == "" || ev.ActorLogin != "root.admin" {
					t.Errorf("failure event %+v", ev)
				}
			}
		}
		if fails != 14 {
			t.Errorf("%d FAILURE events, want 14 (one per failed mutation)", fails)
		}
	})
}

func TestSessionsExpireAndRevoke(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db, func(c *config.Config) {
			c.SessionTTL, c.SessionIdle = 3*time.Hour, time.Hour
		})
		env.CreateUser("sam", []string{security.RoleCustomer}, nil)
		me := `{ me { login } session { id expiresAt } }`
		ok := func(tok string) bool { return env.Do(tok, me, nil).Code() == "" }

		// Idle timeout: used every 50 minutes the session lives until the absolute limit.
		tok := env.Login("sam", apptest.DefaultPassword)
		for i := 0; i < 3; i++ {
			env.Clock.Advance(50 * time.Minute)
			if !ok(tok) {
				t.Fatalf("session died after %d×50m of activity", i+1)
			}
		}
		env.Clock.Advance(40 * time.Minute) // 3h10m: past the absolute limit
		if r := env.Do(tok, me, nil); r.Code() != "UNAUTHENTICATED" || r.Status != http.StatusUnauthorized {
			t.Fatalf("after absolute TTL: %d %s", r.Status, r.Raw)
		}

		tok = env.Login("sam", apptest.DefaultPassword)
		env.Clock.Advance(time.Hour + time.Second)
		if ok(tok) {
			t.Fatal("session survived an hour idle")
		}

		tok = env.Login("sam", apptest.DefaultPassword)
		env.MustDo(tok, `mutation { logout }`, nil, nil)
		if ok(tok) {
			t.Fatal("session survived logout")
		}

		tok = env.Login("sam", apptest.DefaultPassword)
		if !ok(tok) {
			t.Fatal("fresh session refused")
		}
		_, admin := env.UserWithToken("root.admin", security.RoleAdministrator)
		sam := env.CreateUser("sam2", []string{security.RoleCustomer}, nil)
		tok2 := env.Login("sam2", apptest.DefaultPassword)
		env.MustDo(admin, `mutation($id:ID!) { updateUser(input:{id:$id, locked:true}) { locked } }`, map[string]any{"id": sam.ID}, nil)
		if ok(tok2) {
			t.Fatal("session survived locking its user")
		}
		if r := env.Do("", `mutation { login(login:"sam2", password:"correct horse battery staple") { token } }`, nil); r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("locked user logged in: %s", r.Raw)
		}
		for _, bad := range []string{"bhs_forged", "Bearer", "bhk_nope", strings.Repeat("a", 300)} {
			if r := env.Do(bad, me, nil); r.Code() != "UNAUTHENTICATED" {
				t.Errorf("token %q: %s", bad, r.Raw)
			}
		}
	})
}

func TestLoginThrottleAndRehash(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		u := env.CreateUser("tina", []string{security.RoleCustomer}, nil)
		login := func(pw string) *apptest.Response {
			return env.Do("", `mutation($p:String!) { login(login:"tina", password:$p) { token } }`, map[string]any{"p": pw})
		}
		unknown := env.Do("", `mutation { login(login:"nobody", password:"whatever it is") { token } }`, nil)
		wrong := login("wrong password!")
		if unknown.Code() != "UNAUTHENTICATED" || wrong.Code() != "UNAUTHENTICATED" || unknown.Errors[0].Message != wrong.Errors[0].Message {
			t.Fatalf("unknown login and wrong password answer differently:\n%s\n%s", unknown.Raw, wrong.Raw)
		}
		for i := 0; i < 3; i++ {
			login("wrong password!")
		}
		// 4 failures: throttled for a second; even the right password is refused meanwhile.
		if r := login(apptest.DefaultPassword); r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("right password accepted while throttled: %s", r.Raw)
		}
		env.Clock.Advance(2 * time.Second)
		if r := login(apptest.DefaultPassword); r.Code() != "" {
			t.Fatalf("right password refused after the delay: %s", r.Raw)
		}
		var after model.User
		dbtest.Must(t, db.First(&after, "id = ?", u.ID))
		if after.FailedLogins != 0 || after.ThrottledUntil != nil {
			t.Fatalf("success did not reset the throttle: %+v", after)
		}
		failed := env.EventsWithAction("auth.login.failed")
		if len(failed) != 6 {
			t.Fatalf("%d auth.login.failed events, want 6", len(failed))
		}
		reasons := map[string]int{}
		for _, ev := range failed {
			reasons[ev.Reason]++
		}
		if reasons[security.ReasonUnknownLogin] != 1 || reasons[security.ReasonBadPassword] != 4 || reasons[security.ReasonThrottled] != 1 {
			t.Fatalf("failure reasons %v", reasons)
		}

		// A weaker stored hash is upgraded at login.
		dbtest.Must(t, db.Model(&model.User{}).Where("id = ?", u.ID).Update("password_hash", security.HashWith(security.Argon2Params{Memory: 256, Time: 1, Threads: 1}, apptest.DefaultPassword)))
		env.Login("tina", apptest.DefaultPassword)
		dbtest.Must(t, db.First(&after, "id = ?", u.ID))
		if want := fmt.Sprintf("m=%d,t=%d,p=%d", apptest.HashParams.Memory, apptest.HashParams.Time, apptest.HashParams.Threads); !strings.Contains(after.PasswordHash, want) {
			t.Fatalf("hash not upgraded: %s", after.PasswordHash)
		}
	})
}

// TestSecretsNeverLogged: tokens and passwords never reach a log line or an audit row.
func TestSecretsNeverLogged(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		env.CreateUser("lola", []string{security.RoleAdministrator}, nil)
		tok := env.Login("lola", apptest.DefaultPassword)
		env.MustDo(tok, `{ me { login } users(search:"lola") { totalCount } }`, nil, nil)
		env.Do("", `mutation { login(login:"lola", password:"not the password") { token } }`, nil)
		env.MustDo(tok, `mutation { createUser(input:{login:"nina", email:"nina@example.com", password:"nina secret pass", roles:["customer"]}) { id } }`, nil, nil)
		env.MustDo(tok, `mutation { logout }`, nil, nil)
		logs := env.Logs.String()
		if !strings.Contains(logs, `"request_id"`) {
			t.Fatal("no request log captured")
		}
		var rows strings.Builder
		for _, ev := range env.AuditEvents() {
			fmt.Fprintf(&rows, "%+v\n", ev)
		}
		for _, secret := range []string{tok, strings.TrimPrefix(tok, "bhs_"), apptest.DefaultPassword, "not the password", "nina secret pass"} {
			if strings.Contains(logs, secret) {
				t.Errorf("secret %q in logs", secret)
			}
			if strings.Contains(rows.String(), secret) {
				t.Errorf("secret %q in audit rows", secret)
			}
		}
	})
}

func TestTransportsAndProbes(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		_, tok := env.UserWithToken("ivy", security.RoleAdministrator)
		get := func(path string, h map[string]string) (int, string) {
			w := env.HTTP(apptest.Request{Method: http.MethodGet, Path: path, Headers: h})
			return w.Code, w.Body.String()
		}
		if code, _ := get("/healthz", nil); code != 200 {
			t.Errorf("healthz %d", code)
		}
		if code, _ := get("/readyz", nil); code != 200 {
			t.Errorf("readyz %d", code)
		}
		if code, _ := get("/graphiql", nil); code != 200 {
			t.Errorf("graphiql %d", code)
		}
		if w := env.HTTP(apptest.Request{Method: http.MethodGet, Path: "/"}); w.Code != http.StatusFound || w.Header().Get("Location") != "/graphiql" {
			t.Errorf("/ → %d %s", w.Code, w.Header().Get("Location"))
		}
		auth := map[string]string{"Authorization": "Bearer " + tok}
		code, body := get("/graphql?query="+url.QueryEscape(`{ me { login } }`), auth)
		if code != 200 || !strings.Contains(body, `"login":"ivy"`) {
			t.Errorf("GET query: %d %s", code, body)
		}
		_, body = get("/graphql?query="+url.QueryEscape(`mutation { logout }`), auth)
		if !strings.Contains(body, "errors") || env.Do(tok, `{ me { login } }`, nil).Code() != "" {
			t.Errorf("GET ran a mutation: %s", body)
		}
		code, body = get("/graphql?access_token="+tok+"&query="+url.QueryEscape(`{ me { login } }`), nil)
		if code != http.StatusBadRequest || !strings.Contains(body, "BAD_USER_INPUT") {
			t.Errorf("token in query string: %d %s", code, body)
		}
		w := env.HTTP(apptest.Request{Path: "/graphql", Body: strings.NewReader(`query={me{login}}`), Headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}})
		if w.Code < 400 {
			t.Errorf("form-encoded POST accepted: %d", w.Code)
		}
		// The server names the request with its own id; the client's is kept apart (see clientip_test).
		if w := env.HTTP(apptest.Request{Method: http.MethodGet, Path: "/graphql", Headers: map[string]string{"X-Request-Id": "abc-123"}}); w.Header().Get("X-Request-Id") == "" || w.Header().Get("X-Request-Id") == "abc-123" {
			t.Errorf("request id %q: want the server's own", w.Header().Get("X-Request-Id"))
		}
		// Introspection is on outside production and off in production.
		if r := env.Do(tok, `{ __schema { queryType { name } } }`, nil); r.Code() != "" {
			t.Errorf("introspection in development: %s", r.Raw)
		}
		prod := apptest.New(t, db, func(c *config.Config) { c.Env = "production" })
		if r := prod.Do(tok, `{ __schema { queryType { name } } }`, nil); r.Code() == "" {
			t.Errorf("introspection in production: %s", r.Raw)
		}
		// The complexity limit refuses huge queries.
		// A page's cost is its size times its selection, so nesting pages multiplies.
		small := apptest.New(t, db, func(c *config.Config) { c.ComplexityLimit = 200 })
		if r := small.Do(tok, `{ users(first:5) { edges { node { id login } } } }`, nil); r.Code() != "" {
			t.Errorf("small page refused: %s", r.Raw)
		}
		if r := small.Do(tok, `{ users(first:100) { edges { node { id login email roles contact { id } } } } }`, nil); r.Code() != "COMPLEXITY_LIMIT_EXCEEDED" {
			t.Errorf("complexity: %s", r.Raw)
		}
		if r := small.Do(tok, `{ products(first:100) { edges { node { sku name price { amount } } } } }`, nil); r.Code() != "COMPLEXITY_LIMIT_EXCEEDED" {
			t.Errorf("products complexity: %s", r.Raw)
		}
		if r := small.Do(tok, `{ orders(first:100) { edges { node { id number } } } }`, nil); r.Code() != "COMPLEXITY_LIMIT_EXCEEDED" {
			t.Errorf("orders complexity: %s", r.Raw)
		}
		if r := small.Do(tok, `{ organizations(first:10) { edges { node { contacts(first:10) { edges { node { id } } } } } } }`, nil); r.Code() != "COMPLEXITY_LIMIT_EXCEEDED" {
			t.Errorf("nested complexity: %s", r.Raw)
		}
	})
}

// TestInternalErrorsDoNotLeak: a database failure answers INTERNAL_SERVER_ERROR without SQL or detail.
func TestInternalErrorsDoNotLeak(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		_, tok := env.UserWithToken("ivy", security.RoleAdministrator)
		// Break the contacts table under the running server.
		if err := db.Exec(`ALTER TABLE contacts RENAME TO contacts_gone`).Error; err != nil {
			t.Fatal(err)
		}
		r := env.Do(tok, `{ contacts(search:"x") { totalCount } }`, nil)
		if r.Code() != "INTERNAL_SERVER_ERROR" || r.Errors[0].Message != "internal error" {
			t.Fatalf("got %s", r.Raw)
		}
		for _, leak := range []string{"contacts_gone", "SELECT", "SQLSTATE", "no such table", "relation"} {
			if strings.Contains(r.Raw, leak) {
				t.Errorf("response leaks %q: %s", leak, r.Raw)
			}
		}
		if !strings.Contains(env.Logs.String(), "internal error") {
			t.Error("internal error not logged")
		}
		_ = context.Background()
	})
}

// TestEmptyOptionalStringsAreNull: an ordinary session has no reason and a successful event no error
// code; both answer null rather than "".
func TestEmptyOptionalStringsAreNull(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		_, tok := env.UserWithToken("nora", security.RoleAdministrator)
		r := env.Do(tok, `{ session { reason } auditEvents(first:1) { edges { node { action reason errorCode arguments } } } }`, nil)
		want := `{"session":{"reason":null},"auditEvents":{"edges":[{"node":{"action":"auth.login","reason":null,"errorCode":null,"arguments":"{\"login\":\"nora\",\"password\":\"[REDACTED]\"}"}}]}}`
		if string(r.Data) != want {
			t.Fatalf("got  %s\nwant %s", r.Data, want)
		}
	})
}

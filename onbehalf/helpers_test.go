package onbehalf_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"behalf/config"
	"behalf/internal/apptest"
	"behalf/model"
	"behalf/security"

	"gorm.io/gorm"
)

// The GraphQL operations of the flow.
const (
	qLoginOnBehalf = `mutation($u:ID!, $r:String) { loginOnBehalf(userId:$u, reason:$r) { ticket url expiresAt user { id login } } }`
	qConfirm       = `mutation($t:String!, $l:String!, $p:String!) { confirmOnBehalf(ticket:$t, login:$l, password:$p) {
		token expiresAt user { id login } session { id onBehalf reason expiresAt operator { id login } } } }`
	qWhoAmI        = `{ me { id login permissions } session { id onBehalf reason expiresAt operator { id login } } }`
	qEnd           = `mutation { endOnBehalf }`
	qSetConsent    = `mutation($a:Boolean!) { setAllowLoginOnBehalf(allow:$a) { id allowLoginOnBehalf } }`
	qUpdateUser    = `mutation($in:UpdateUserInput!) { updateUser(input:$in) { id } }`
	qCanLoginFor   = `query($u:ID!) { user(id:$u) { canLoginOnBehalf allowLoginOnBehalf } }`
	qRevokeSession = `mutation($id:ID!) { revokeSession(id:$id) }`
)

// world is a server with the cast of the flow: two administrators, a support engineer and customers.
type world struct {
	t   testing.TB
	env *apptest.Env
	// admin asks for tickets; admin2 changes users behind admin's back.
	admin, admin2, support, customer, customer2  *model.User
	adminTok, admin2Tok, supportTok, customerTok string
	adminSession                                 string // the id of adminTok's session
}

func newWorld(t testing.TB, db *gorm.DB, opts ...func(*config.Config)) *world {
	t.Helper()
	w := &world{t: t, env: apptest.New(t, db, opts...)}
	w.admin, w.adminTok = w.env.UserWithToken("ada.admin", security.RoleAdministrator)
	w.admin2, w.admin2Tok = w.env.UserWithToken("bob.admin", security.RoleAdministrator)
	w.support, w.supportTok = w.env.UserWithToken("sue.support", security.RoleSupport)
	w.customer, w.customerTok = w.env.UserWithToken("carl.customer", security.RoleCustomer)
	w.customer2 = w.env.CreateUser("cora.customer", []string{security.RoleCustomer}, nil)
	w.adminSession = w.sessionOf(w.adminTok).ID
	return w
}

// identity authenticates a token the way a request would.
func (w *world) identity(token string) *security.Identity {
	w.t.Helper()
	id, err := w.env.App.Security.Authenticate(context.Background(), token)
	if err != nil {
		w.t.Fatalf("authenticate: %v", err)
	}
	return id
}

func (w *world) sessionOf(token string) *model.Session { return w.identity(token).Session }

// ticket is loginOnBehalf's result.
type ticket struct {
	Ticket, URL string
	ExpiresAt   time.Time
	User        struct{ ID, Login string }
}

// askTicket calls loginOnBehalf and returns the raw response.
func (w *world) askTicket(token, userID, reason string) *apptest.Response {
	w.t.Helper()
	return w.env.Do(token, qLoginOnBehalf, map[string]any{"u": userID, "r": reason})
}

// mustTicket calls loginOnBehalf and fails the test unless it succeeds.
func (w *world) mustTicket(token, userID, reason string) ticket {
	w.t.Helper()
	var out struct{ LoginOnBehalf ticket }
	w.askTicket(token, userID, reason).Decode(w.t, &out)
	return out.LoginOnBehalf
}

// sessionView is the Session selection of the flow's operations.
type sessionView struct {
	ID        string
	OnBehalf  bool
	Reason    *string
	ExpiresAt time.Time
	Operator  *struct{ ID, Login string }
}

// scoped is confirmOnBehalf's result.
type scoped struct {
	Token     string
	ExpiresAt time.Time
	User      struct{ ID, Login string }
	Session   sessionView
}

// confirm calls confirmOnBehalf anonymously, as the storefront window does.
func (w *world) confirm(ticket, login, password string) *apptest.Response {
	w.t.Helper()
	return w.env.Do("", qConfirm, map[string]any{"t": ticket, "l": login, "p": password})
}

// mustConfirm confirms a ticket with the given operator's login and the default password.
func (w *world) mustConfirm(ticket, login string) scoped {
	w.t.Helper()
	var out struct{ ConfirmOnBehalf scoped }
	w.confirm(ticket, login, apptest.DefaultPassword).Decode(w.t, &out)
	return out.ConfirmOnBehalf
}

// actFor runs the whole flow: the operator (with token and login) asks for a ticket for target and
// confirms it; it returns the scoped session.
func (w *world) actFor(opToken, opLogin string, target *model.User) scoped {
	w.t.Helper()
	tk := w.mustTicket(opToken, target.ID, "customer called support")
	return w.mustConfirm(tk.Ticket, opLogin)
}

// adminActsForCustomer is actFor for the usual pair.
func (w *world) adminActsForCustomer() scoped {
	w.t.Helper()
	return w.actFor(w.adminTok, w.admin.Login, w.customer)
}

// whoAmI is the answer to qWhoAmI.
type whoAmI struct {
	Me struct {
		ID, Login   string
		Permissions []string
	}
	Session sessionView
}

func (w *world) whoAmI(token string) whoAmI {
	w.t.Helper()
	var out whoAmI
	w.env.MustDo(token, qWhoAmI, nil, &out)
	return out
}

// code is the first error code of a request with token.
func (w *world) code(token, query string, vars map[string]any) string {
	w.t.Helper()
	return w.env.Do(token, query, vars).Code()
}

// alive reports whether token still authenticates a request (false on UNAUTHENTICATED).
func (w *world) alive(token string) bool {
	w.t.Helper()
	switch c := w.code(token, `{ me { id } }`, nil); c {
	case "":
		return true
	case "UNAUTHENTICATED":
		return false
	default:
		w.t.Fatalf("me answered %s", c)
		return false
	}
}

// update changes a user as admin2 (security:write).
func (w *world) update(in map[string]any) {
	w.t.Helper()
	w.env.MustDo(w.admin2Tok, qUpdateUser, map[string]any{"in": in}, nil)
}

// apiKey gives the user an API key directly in the database (key management is another issue's).
func (w *world) apiKey(u *model.User) string {
	w.t.Helper()
	secret := security.NewToken(security.APIKeyPrefix)
	k := &model.APIKey{ID: model.NewID(), UserID: u.ID, Name: "test", Prefix: secret[:12], SecretHash: security.HashToken(secret), CreatedAt: apptest.Start}
	if err := w.env.DB.Create(k).Error; err != nil {
		w.t.Fatal(err)
	}
	return secret
}

// lastEvent returns the newest audit event of an action, failing when there is none.
func (w *world) lastEvent(action string) model.AuditEvent {
	w.t.Helper()
	evs := w.env.EventsWithAction(action)
	if len(evs) == 0 {
		w.t.Fatalf("no %s event; actions: %v", action, actions(w.env.AuditEvents()))
	}
	return evs[len(evs)-1]
}

func actions(evs []model.AuditEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Action + "/" + string(e.Outcome) + "/" + e.Reason
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// errMessage is the first error's message.
func errMessage(r *apptest.Response) string {
	if len(r.Errors) == 0 {
		return ""
	}
	return r.Errors[0].Message
}

func vars(kv ...any) map[string]any {
	m := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

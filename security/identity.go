package security

import (
	"context"

	"behalf/apperr"
	"behalf/model"
	"behalf/store"
)

// Identity is who a request acts as. In a login-on-behalf session User is the customer (the subject,
// whose data is seen and changed) and Operator the staff member really acting (RFC 8693's actor).
type Identity struct {
	User           *model.User
	Operator       *model.User
	Session        *model.Session
	APIKey         *model.APIKey
	OrganizationID string
	perms          PermissionSet
}

// NewIdentity builds an identity whose permissions are the user's own (the customer's, in a
// login-on-behalf session: never the operator's staff powers).
func NewIdentity(u *model.User, orgID string) *Identity {
	return &Identity{User: u, OrganizationID: orgID, perms: PermissionsOf(u.Roles)}
}

// Has reports whether the identity holds perm.
func (i *Identity) Has(perm string) bool { return i != nil && i.perms[perm] }

// Permissions returns the effective permission set.
func (i *Identity) Permissions() PermissionSet { return i.perms }

// OnBehalf reports whether the request runs in a login-on-behalf session.
func (i *Identity) OnBehalf() bool { return i != nil && i.Operator != nil }

// Actor is the person really acting: the operator in a login-on-behalf session, else the user.
func (i *Identity) Actor() *model.User {
	if i.Operator != nil {
		return i.Operator
	}
	return i.User
}

// SessionID returns the session's id, or "" for API keys.
func (i *Identity) SessionID() string {
	if i == nil || i.Session == nil {
		return ""
	}
	return i.Session.ID
}

type idKey struct{}

// WithIdentity returns a context carrying id, and the stamp its writes carry (store.Stamp): the
// person really acting, the operator in a login-on-behalf session, and the account it belongs to.
func WithIdentity(ctx context.Context, id *Identity) context.Context {
	if id != nil && id.User != nil {
		s := store.Stamp{Login: id.Actor().Login, SubjectID: id.User.ID}
		if id.Operator != nil {
			op := id.Operator.ID
			s.OperatorID = &op
		}
		ctx = store.WithStamp(ctx, s)
	}
	return context.WithValue(ctx, idKey{}, id)
}

// FromContext returns the request's identity, or nil when anonymous.
func FromContext(ctx context.Context) *Identity {
	id, _ := ctx.Value(idKey{}).(*Identity)
	return id
}

// RequireUser returns the identity or UNAUTHENTICATED.
func RequireUser(ctx context.Context) (*Identity, error) {
	id := FromContext(ctx)
	if id == nil {
		return nil, apperr.ErrUnauthenticated
	}
	return id, nil
}

// Require returns the identity if it holds any of perms: UNAUTHENTICATED when anonymous, FORBIDDEN
// otherwise.
func Require(ctx context.Context, perms ...string) (*Identity, error) {
	id, err := RequireUser(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range perms {
		if id.Has(p) {
			return id, nil
		}
	}
	return nil, apperr.ErrForbidden
}

// StampEvent fills an audit event's actor, subject, session and on-behalf flag from ctx.
func StampEvent(ctx context.Context, ev *model.AuditEvent) {
	id := FromContext(ctx)
	if id == nil {
		return
	}
	a := id.Actor()
	ev.ActorID, ev.ActorLogin = &a.ID, a.Login
	ev.SubjectID, ev.SubjectLogin = &id.User.ID, id.User.Login
	ev.OnBehalf = id.OnBehalf()
	if sid := id.SessionID(); sid != "" {
		ev.SessionID = &sid
	}
	if id.Session != nil && id.Session.OnBehalf && ev.Reason == "" {
		ev.Reason = id.Session.Reason
	}
}

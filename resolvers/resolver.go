// Package resolvers holds the thin GraphQL resolvers: they parse input, call a domain service and map
// the result. Rules live in the domain packages.
package resolvers

import (
	"context"

	"behalf/audit"
	"behalf/commerce"
	"behalf/config"
	"behalf/directory"
	"behalf/graph/loaders"
	"behalf/integrations"
	"behalf/model"
	"behalf/onbehalf"
	"behalf/security"
	"behalf/store"
)

// Resolver is the root resolver; it holds the domain services.
type Resolver struct {
	Config    config.Config
	Security  *security.Service
	Directory *directory.Service
	Audit     *audit.Service
	Commerce  *commerce.Service
	OnBehalf  *onbehalf.Service
	// Integrations manages webhook endpoints and deliveries.
	Integrations *integrations.Service
}

func page(first *int, after *string) store.PageArgs {
	return store.PageArgs{First: first, After: after}
}

// userByID loads a user through the request's batching loader when there is one.
func (r *Resolver) userByID(ctx context.Context, id *string) (*model.User, error) {
	if id == nil || *id == "" {
		return nil, nil
	}
	if l := loaders.For(ctx); l != nil {
		return l.Users.Load(ctx, *id)
	}
	u, err := r.Security.UserByID(ctx, *id)
	if err != nil {
		return nil, nil
	}
	return u, nil
}

// visibleUser is userByID for a user whose account the viewer may not be entitled to see (a session's
// operator, an audit event's actor): null unless security.MaySeeAccount allows it.
func (r *Resolver) visibleUser(ctx context.Context, id *string) (*model.User, error) {
	if id == nil || !security.MaySeeAccount(security.FromContext(ctx), *id) {
		return nil, nil
	}
	return r.userByID(ctx, id)
}

// displayName is what anyone may see of a user: their contact's full name, else their login.
func (r *Resolver) displayName(ctx context.Context, id *string) (*string, error) {
	u, err := r.userByID(ctx, id)
	if err != nil || u == nil {
		return nil, err
	}
	name := u.Login
	if u.ContactID != nil {
		c, err := r.Directory.ContactByID(ctx, *u.ContactID)
		if err != nil {
			return nil, err
		}
		if c != nil && c.FullName() != "" {
			name = c.FullName()
		}
	}
	return &name, nil
}

func (r *Resolver) organizationByID(ctx context.Context, id *string) (*model.Organization, error) {
	if id == nil || *id == "" {
		return nil, nil
	}
	if l := loaders.For(ctx); l != nil {
		return l.Organizations.Load(ctx, *id)
	}
	return r.Directory.OrganizationByID(ctx, *id)
}

func authPayload(res *security.AuthResult) *model.AuthPayload {
	return &model.AuthPayload{Token: res.Token, ExpiresAt: res.Session.ExpiresAt, User: res.User, Session: res.Session}
}

// nonEmpty maps an empty optional string to null.
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

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

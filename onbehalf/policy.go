package onbehalf

import (
	"context"

	"behalf/apperr"
	"behalf/model"
	"behalf/security"
)

// Reason codes of a refusal. The client only ever sees FORBIDDEN with a generic message; the code goes
// to the onbehalf.denied audit event, so nobody can probe the policy but every refusal is explained.
const (
	// From where.
	ReasonAPIKey = "API_KEY" // the caller authenticated with an API key
	ReasonNested = "NESTED"  // the caller is itself in a login-on-behalf session
	// Who may.
	ReasonNotPermitted      = "NOT_PERMITTED"      // neither security:loginOnBehalf nor organization:loginOnBehalf
	ReasonOtherOrganization = "OTHER_ORGANIZATION" // organization:loginOnBehalf, but the target is not in the caller's organization
	// Whom.
	ReasonNotFound      = "NOT_FOUND"       // no such user (FORBIDDEN as well: ids are not probed)
	ReasonSelf          = "SELF"            // the caller named themself
	ReasonTargetIsStaff = "TARGET_IS_STAFF" // staff are never impersonated: nobody gains privileges this way
	ReasonTargetLocked  = "TARGET_LOCKED"   // the target is locked
	ReasonNoConsent     = "NO_CONSENT"      // the target's consent (allowLoginOnBehalf) does not allow it
)

// Refusals of confirmOnBehalf that concern its credentials (the ticket, the login and password) are one
// UNAUTHENTICATED error with one message, whatever went wrong; the code is for the audit event only.
const (
	ReasonTicketInvalid  = "TICKET_INVALID"  // unknown, already used or expired ticket
	ReasonWrongOperator  = "WRONG_OPERATOR"  // valid credentials of someone other than the ticket's requester
	ReasonOperatorLogout = "OPERATOR_LOGOUT" // the requester's own session ended since the ticket was issued
)

// Other refusals (FORBIDDEN).
const (
	ReasonNotOnBehalf = "NOT_ON_BEHALF" // endOnBehalf outside a login-on-behalf session
)

// DeniedInSession names ("Type.field") what the staff member acting in a customer's account must never
// reach: the customer's credentials, email, consent, keys and sessions, another login on behalf, and
// user administration. The schema marks each with @denyOnBehalf, whose refusal is CheckFrom's; the
// schema tests hold the schema to this list.
//
// createUser and updateUser need security:write, which a login-on-behalf session never has (it carries
// the customer's permissions only), yet updateUser changes email and lock and createUser sets a
// password: they are listed too, so the rule does not hang on a permission table staying as it is.
var DeniedInSession = []string{
	"Mutation.changePassword",
	"Mutation.setAllowLoginOnBehalf",
	"Mutation.generateApiKey",
	"Mutation.revokeApiKey",
	"Mutation.revokeSession",
	"Mutation.revokeAllSessions",
	"Mutation.loginOnBehalf",
	"Mutation.confirmOnBehalf",
	"Mutation.createUser",
	"Mutation.updateUser",
	"Query.apiKeys",
}

// DeniedToAPIKeys names ("Type.field") what an API key must never reach besides the session and key
// management of schema/sessions.graphqls: login on behalf and the consent switch. The schema marks each
// with @denyApiKey.
var DeniedToAPIKeys = []string{
	"Mutation.loginOnBehalf",
	"Mutation.confirmOnBehalf",
	"Mutation.setAllowLoginOnBehalf",
}

// deny is the policy's refusal: FORBIDDEN with a generic message, the reason kept for the audit trail.
func deny(reason string) error { return apperr.New(apperr.Forbidden, "not allowed").WithReason(reason) }

// OrganizationOf returns the organization id of a user's contact, or "" (directory owns contacts).
type OrganizationOf func(ctx context.Context, u *model.User) (string, error)

// Policy decides who may log in on behalf of whom, from where. It is the whole rule in one place: the
// mutations, User.canLoginOnBehalf, the @denyOnBehalf and @denyApiKey directives and the per-request
// guard of a running session all ask it.
type Policy struct {
	orgOf        OrganizationOf
	consentOptIn bool
}

// NewPolicy returns the policy. consentOptIn makes customers who never chose refuse login on behalf
// (BEHALF_ONBEHALF_CONSENT=opt-in).
func NewPolicy(orgOf OrganizationOf, consentOptIn bool) Policy {
	return Policy{orgOf: orgOf, consentOptIn: consentOptIn}
}

// From names where a field may not be reached from, as its schema directives mark it.
type From int

// The origins a field can refuse.
const (
	NotAPIKey   From = 1 << iota // @denyApiKey: not with an API key
	NotOnBehalf                  // @denyOnBehalf: not from inside a login-on-behalf session
)

// Errors of CheckFrom; their reason codes are the policy's API_KEY and NESTED.
var (
	errFromAPIKey   = apperr.New(apperr.Forbidden, "not allowed with an API key").WithReason(ReasonAPIKey)
	errFromOnBehalf = apperr.New(apperr.Forbidden, "not allowed in a login-on-behalf session").WithReason(ReasonNested)
)

// CheckFrom is the rule "from where", the only place it lives: an API key cannot reach what refuses
// NotAPIKey, and a login-on-behalf session (whose operator must not act on the customer's credentials,
// consent or keys, nor nest another login on behalf) cannot reach what refuses NotOnBehalf. An
// anonymous caller passes: what needs a user says so itself.
func (p Policy) CheckFrom(caller *security.Identity, refused From) error {
	switch {
	case caller == nil:
		return nil
	case refused&NotAPIKey != 0 && caller.APIKey != nil:
		return errFromAPIKey
	case refused&NotOnBehalf != 0 && caller.OnBehalf():
		return errFromOnBehalf
	}
	return nil
}

// CheckCaller applies the rules about the caller alone: from where (not an API key, not from inside a
// login-on-behalf session) and who may (one of the two login-on-behalf permissions).
func (p Policy) CheckCaller(caller *security.Identity) error {
	if caller == nil {
		return apperr.ErrUnauthenticated
	}
	if err := p.CheckFrom(caller, NotAPIKey|NotOnBehalf); err != nil {
		return err
	}
	if !caller.Has(security.PermLoginOnBehalf) && !caller.Has(security.PermOrgLoginOnBehalf) {
		return deny(ReasonNotPermitted)
	}
	return nil
}

// AllowsOnBehalf is a user's effective consent: their explicit choice, else the configured default.
func (p Policy) AllowsOnBehalf(u *model.User) bool {
	if u.AllowOnBehalf != nil {
		return *u.AllowOnBehalf
	}
	return !p.consentOptIn
}

// CheckTarget applies the rules about the target, for a caller that passed CheckCaller: not oneself,
// inside the caller's organization when only organization:loginOnBehalf is held, never staff, active,
// and consenting.
func (p Policy) CheckTarget(ctx context.Context, caller *security.Identity, target *model.User) error {
	if target == nil {
		return deny(ReasonNotFound)
	}
	if target.ID == caller.User.ID {
		return deny(ReasonSelf)
	}
	if !caller.Has(security.PermLoginOnBehalf) {
		org, err := p.orgOf(ctx, target)
		if err != nil {
			return err
		}
		if caller.OrganizationID == "" || org != caller.OrganizationID {
			return deny(ReasonOtherOrganization)
		}
	}
	switch {
	case security.IsStaff(target):
		return deny(ReasonTargetIsStaff)
	case target.Locked:
		return deny(ReasonTargetLocked)
	case !p.AllowsOnBehalf(target):
		return deny(ReasonNoConsent)
	}
	return nil
}

// Check applies the whole policy.
func (p Policy) Check(ctx context.Context, caller *security.Identity, target *model.User) error {
	if err := p.CheckCaller(caller); err != nil {
		return err
	}
	return p.CheckTarget(ctx, caller, target)
}

// Guard is the security service's per-request re-check of a running login-on-behalf session: the
// operator must still hold the permission and the customer must still be an eligible target (not
// turned staff, not locked, still consenting). Any refusal ends the request as UNAUTHENTICATED.
func (p Policy) Guard(ctx context.Context, operator *model.User, operatorOrgID string, subject *model.User) error {
	return p.Check(ctx, security.NewIdentity(operator, operatorOrgID), subject)
}

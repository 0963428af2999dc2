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
	ReasonOnBehalf    = "ON_BEHALF"     // the consent switch from inside a login-on-behalf session
)

// deny is the policy's refusal: FORBIDDEN with a generic message, the reason kept for the audit trail.
func deny(reason string) error { return apperr.New(apperr.Forbidden, "not allowed").WithReason(reason) }

// Policy decides who may log in on behalf of whom, from where. It is the whole rule in one place: the
// mutations, User.canLoginOnBehalf and the per-request guard of a running session all ask it.
type Policy struct {
	sec *security.Service
}

// CheckCaller applies the rules about the caller alone: from where (not an API key, not from inside a
// login-on-behalf session) and who may (one of the two login-on-behalf permissions).
func (p Policy) CheckCaller(caller *security.Identity) error {
	switch {
	case caller == nil:
		return apperr.ErrUnauthenticated
	case caller.APIKey != nil:
		return deny(ReasonAPIKey)
	case caller.OnBehalf():
		return deny(ReasonNested)
	case !caller.Has(security.PermLoginOnBehalf) && !caller.Has(security.PermOrgLoginOnBehalf):
		return deny(ReasonNotPermitted)
	}
	return nil
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
		org, err := p.sec.OrganizationOf(ctx, target)
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
	case !p.sec.AllowsOnBehalf(target):
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

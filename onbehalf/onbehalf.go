// Package onbehalf lets staff act in a customer's account without the customer's password: a one-time
// ticket asked for from the admin console, confirmed in the storefront with the staff member's own
// credentials, opens a separate, shorter session whose subject is the customer and whose operator is the
// staff member. The policy (policy.go) says who may do it for whom; this file runs the flow.
package onbehalf

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"behalf/apperr"
	"behalf/audit"
	"behalf/internal/clock"
	"behalf/model"
	"behalf/security"
	"behalf/store"

	"github.com/rs/zerolog"
	"gorm.io/gorm"
)

// TicketPrefix makes a leaked ticket recognisable.
const TicketPrefix = "bht_"

// MaxReasonLength bounds the reason kept on record (in characters).
const MaxReasonLength = 500

// Options configure the service.
type Options struct {
	TicketTTL   time.Duration // BEHALF_ONBEHALF_TICKET_TTL
	URLTemplate string        // the ticket link with {userId} and {ticket} (config.OnBehalfURLTemplate)
}

// Service runs login on behalf.
type Service struct {
	db     *gorm.DB
	clock  clock.Clock
	sec    *security.Service
	audit  *audit.Service
	opt    Options
	Policy Policy
}

// New returns the service; p is the policy it enforces (the one the security service's guard asks).
func New(db *gorm.DB, c clock.Clock, sec *security.Service, a *audit.Service, p Policy, opt Options) *Service {
	return &Service{db: db, clock: c, sec: sec, audit: a, opt: opt, Policy: p}
}

// Ticket is a pending login on behalf. Only the ticket's SHA-256 is stored.
type Ticket struct {
	ID                string `gorm:"primaryKey"`
	TicketHash        []byte
	OperatorID        string
	OperatorSessionID string
	TargetID          string
	Reason            string
	CreatedAt         time.Time
	ExpiresAt         time.Time
	UsedAt            *time.Time
	SessionID         *string // the login-on-behalf session it opened
}

// TableName names the tickets' table.
func (Ticket) TableName() string { return "onbehalf_tickets" }

// Issued is a new ticket, as returned to the admin console once.
type Issued struct {
	Ticket    string
	URL       string
	ExpiresAt time.Time
	User      *model.User
}

// CanLoginOnBehalf answers the policy for the request's caller and target, without side effects.
func (s *Service) CanLoginOnBehalf(ctx context.Context, target *model.User) bool {
	return s.Policy.Check(ctx, security.FromContext(ctx), target) == nil
}

// RequestTicket issues a one-time ticket for the caller to act on behalf of the user targetID, after
// the whole policy allowed it. The ticket is bound to the caller, their session and the target. The
// audit facts carry the target as subject and the reason, also when the policy refuses.
func (s *Service) RequestTicket(ctx context.Context, targetID string, reason *string) (*Issued, audit.Facts, error) {
	caller, err := security.RequireUser(ctx)
	if err != nil {
		return nil, audit.Facts{}, err
	}
	why, err := validReason(reason)
	if err != nil {
		return nil, audit.Facts{}, err
	}
	target, err := s.user(ctx, targetID)
	if err != nil {
		return nil, audit.Facts{}, err
	}
	facts := audit.Facts{Reason: why}
	if target != nil {
		facts.Subject = audit.UserParty(target)
	}
	is, err := s.issue(ctx, caller, target, why)
	return is, facts, err
}

// issue checks the policy and stores a ticket.
func (s *Service) issue(ctx context.Context, caller *security.Identity, target *model.User, why string) (*Issued, error) {
	if err := s.Policy.Check(ctx, caller, target); err != nil {
		return nil, err
	}
	if caller.Session == nil {
		return nil, deny(ReasonAPIKey) // unreachable: only API keys come without a session
	}
	now := s.clock.Now()
	secret := security.NewToken(TicketPrefix)
	t := &Ticket{
		ID: model.NewID(), TicketHash: security.HashToken(secret), OperatorID: caller.User.ID,
		OperatorSessionID: caller.Session.ID, TargetID: target.ID, Reason: why,
		CreatedAt: now, ExpiresAt: now.Add(s.opt.TicketTTL),
	}
	db := store.Conn(ctx, s.db)
	// Tickets are worthless once expired; sweep old ones so the table stays small.
	if err := db.Where("expires_at < ?", now.Add(-time.Hour)).Delete(&Ticket{}).Error; err != nil {
		return nil, fmt.Errorf("sweep expired tickets: %w", err)
	}
	if err := db.Create(t).Error; err != nil {
		return nil, fmt.Errorf("store ticket: %w", err)
	}
	zerolog.Ctx(ctx).Info().Str("subject_id", target.ID).Str("ticket_id", t.ID).Msg("login on behalf requested")
	return &Issued{
		Ticket: secret, ExpiresAt: t.ExpiresAt, User: target,
		URL: strings.NewReplacer("{userId}", url.PathEscape(target.ID), "{ticket}", secret).Replace(s.opt.URLTemplate),
	}, nil
}

func validReason(reason *string) (string, error) {
	if reason == nil {
		return "", nil
	}
	// One line: CR, LF and other control characters could forge lines in logs and exports.
	return apperr.Text("reason", *reason, 0, MaxReasonLength)
}

// user loads a user, nil when there is none.
func (s *Service) user(ctx context.Context, id string) (*model.User, error) {
	u, err := s.sec.UserByID(ctx, id)
	if errors.Is(err, apperr.ErrNotFound) {
		return nil, nil
	}
	return u, err
}

// errConfirm is every credential refusal of Confirm: the same message whether the ticket, the login
// or the password was wrong (the reason code tells the audit trail which).
var errConfirm = apperr.New(apperr.Unauthenticated, "invalid or expired ticket, login or password")

// Confirm re-authenticates the staff member who asked for the ticket, consumes the ticket, checks the
// policy again and opens the login-on-behalf session. It may be called anonymously (the storefront
// window has no staff token): the audit facts' actor and subject come from the ticket, not from the
// request.
func (s *Service) Confirm(ctx context.Context, secret, login, password string) (*security.AuthResult, audit.Facts, error) {
	facts := audit.Facts{Anonymous: true}
	res, err := s.confirm(ctx, secret, login, password, &facts)
	return res, facts, err
}

// confirm is Confirm; it fills facts as it learns who the ticket names.
func (s *Service) confirm(ctx context.Context, secret, login, password string, facts *audit.Facts) (*security.AuthResult, error) {
	now := s.clock.Now()
	// Reads before the password check stay outside the mutation's transaction, which begins only
	// after the hash, so no connection is held while it runs.
	rctx := store.Outside(ctx)
	var t Ticket
	err := store.Conn(rctx, s.db).Where("ticket_hash = ?", security.HashToken(secret)).First(&t).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || (err == nil && (t.UsedAt != nil || !now.Before(t.ExpiresAt))) {
		return nil, errConfirm.WithReason(ReasonTicketInvalid)
	}
	if err != nil {
		return nil, err
	}
	// From here on, a failure is recorded against the ticket's requester and target.
	operator, err := s.user(rctx, t.OperatorID)
	if err != nil {
		return nil, err
	}
	target, err := s.user(rctx, t.TargetID)
	if err != nil {
		return nil, err
	}
	if operator != nil {
		facts.Actor = audit.UserParty(operator)
	}
	if target != nil {
		facts.Subject = audit.UserParty(target)
	}
	facts.Reason = t.Reason
	// Any failed attempt burns the ticket (after the rollback), so a leaked ticket is worth one guess;
	// except one refused before any password was looked at (the operator's account throttled, the
	// hash limiter or the address limit full), which is no guess: burning on it let one throttled
	// confirm among concurrent correct ones burn the ticket before the first of them used it.
	guess := true
	store.AfterRollback(ctx, func(ctx context.Context) error {
		if !guess {
			return nil
		}
		return store.Conn(ctx, s.db).Model(&Ticket{}).Where("id = ? AND used_at IS NULL", t.ID).
			Update("used_at", s.clock.Now()).Error
	})
	// The event stays about the ticket's target, not the account signing in (CheckPassword's facts).
	who, _, err := s.sec.CheckPassword(ctx, login, password)
	if err != nil {
		if e, ok := apperr.As(err); ok && (e.Code == apperr.TooManyRequests || e.Reason == security.ReasonThrottled) {
			guess = false
		}
		if apperr.CodeOf(err) == apperr.Unauthenticated {
			e, _ := apperr.As(err)
			return nil, errConfirm.WithReason(e.Reason)
		}
		return nil, err
	}
	if operator == nil || who.ID != operator.ID {
		facts.Actor = audit.UserParty(who)
		return nil, errConfirm.WithReason(ReasonWrongOperator)
	}
	db := store.Conn(ctx, s.db)
	// The one atomic step: of concurrent confirms, exactly one marks the ticket used.
	res := db.Model(&Ticket{}).Where("id = ? AND used_at IS NULL AND expires_at > ?", t.ID, now).Update("used_at", now)
	if res.Error != nil {
		return nil, res.Error
	}
	if res.RowsAffected != 1 {
		return nil, errConfirm.WithReason(ReasonTicketInvalid)
	}
	var parent model.Session
	if err := db.First(&parent, "id = ?", t.OperatorSessionID).Error; err != nil || !security.SessionLive(&parent, now) || parent.UserID != operator.ID {
		return nil, errConfirm.WithReason(ReasonOperatorLogout)
	}
	// Permission and eligibility may have changed since the ticket was issued.
	orgID, err := s.sec.OrganizationOf(ctx, operator)
	if err != nil {
		return nil, err
	}
	if err := s.Policy.Check(ctx, security.NewIdentity(operator, orgID), target); err != nil {
		return nil, err
	}
	opt := s.sec.Options()
	out, err := s.sec.NewSession(ctx, security.NewSessionInput{
		User: target, Operator: operator, Parent: &parent, Reason: t.Reason, TTL: opt.OnBehalfTTL, Idle: opt.OnBehalfIdle,
	})
	if err != nil {
		return nil, err
	}
	if err := db.Model(&Ticket{}).Where("id = ?", t.ID).Update("session_id", out.Session.ID).Error; err != nil {
		return nil, err
	}
	facts.SessionID, facts.OnBehalf = &out.Session.ID, true
	zerolog.Ctx(ctx).Info().Str("operator_id", operator.ID).Str("subject_id", target.ID).
		Str("onbehalf_session_id", out.Session.ID).Msg("login on behalf started")
	return out, nil
}

// End ends the caller's login-on-behalf session (FORBIDDEN outside one).
func (s *Service) End(ctx context.Context) (bool, error) {
	id, err := security.RequireUser(ctx)
	if err != nil {
		return false, err
	}
	if !id.OnBehalf() || id.Session == nil {
		return false, deny(ReasonNotOnBehalf)
	}
	if err := s.sec.RevokeSessionTree(ctx, id.Session.ID, "ended"); err != nil {
		return false, err
	}
	zerolog.Ctx(ctx).Info().Msg("login on behalf ended")
	return true, nil
}

// SetConsent records the caller's own choice whether staff may log in on their behalf. Withdrawing it
// also ends every login-on-behalf session running in the account. (The schema's @denyOnBehalf keeps the
// operator from switching it while acting for the customer.)
func (s *Service) SetConsent(ctx context.Context, allow bool) (*model.User, error) {
	id, err := security.RequireUser(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.Policy.CheckFrom(id, NotOnBehalf); err != nil {
		return nil, err
	}
	return s.sec.SetConsent(ctx, id.User, allow)
}

// Activity lists what was done in the caller's account in login-on-behalf sessions, newest first.
func (s *Service) Activity(ctx context.Context, page store.PageArgs) (*model.AuditEventConnection, error) {
	id, err := security.RequireUser(ctx)
	if err != nil {
		return nil, err
	}
	yes := true
	return s.audit.List(ctx, audit.Filter{SubjectID: &id.User.ID, OnBehalf: &yes}, page)
}

// Preview is whom a ticket is for, for the storefront's confirm page.
type Preview struct {
	Target, Operator *model.User
	Reason           string
	ExpiresAt        time.Time
}

// PreviewTicket says whom a ticket is for without using it up; nil when the ticket is unknown, used or
// expired. Anyone holding the ticket may ask: it is a 128-bit secret handed to the staff member only.
func (s *Service) PreviewTicket(ctx context.Context, secret string) (*Preview, error) {
	var t Ticket
	err := store.Conn(ctx, s.db).Where("ticket_hash = ?", security.HashToken(secret)).First(&t).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || (err == nil && (t.UsedAt != nil || !s.clock.Now().Before(t.ExpiresAt))) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("preview ticket: %w", err)
	}
	target, err := s.user(ctx, t.TargetID)
	if err != nil || target == nil {
		return nil, err
	}
	operator, err := s.user(ctx, t.OperatorID)
	if err != nil || operator == nil {
		return nil, err
	}
	return &Preview{Target: target, Operator: operator, Reason: t.Reason, ExpiresAt: t.ExpiresAt}, nil
}

// Refusal is the reason code why the request's caller may not log in on behalf of target now (one of
// the Reason… constants), or "" when they may. It is the same policy as CanLoginOnBehalf.
func (s *Service) Refusal(ctx context.Context, target *model.User) (string, error) {
	err := s.Policy.Check(ctx, security.FromContext(ctx), target)
	if err == nil {
		return "", nil
	}
	if e, ok := apperr.As(err); ok && e.Reason != "" {
		return e.Reason, nil
	}
	if apperr.CodeOf(err) == apperr.Unauthenticated {
		return ReasonNotPermitted, nil
	}
	return "", err
}

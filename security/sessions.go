package security

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"behalf/apperr"
	"behalf/audit"
	"behalf/model"
	"behalf/reqctx"
	"behalf/store"

	"gorm.io/gorm"
)

// Token prefixes make leaked credentials recognisable (and let Authenticate tell them apart).
const (
	SessionTokenPrefix = "bhs_"
	APIKeyPrefix       = "bhk_"
)

// Throttling: the first freeFailures wrong passwords cost nothing; each further one doubles the wait,
// capped at maxDelay, so at most ~70 guesses an hour reach an account, and its owner is never shut out
// for more than a minute. Failures older than failureWindow are forgotten.
const (
	freeFailures  = 3
	maxDelay      = time.Minute
	failureWindow = time.Hour
)

// Refusal reason codes for auth.login.failed events.
const (
	ReasonUnknownLogin = "UNKNOWN_LOGIN"
	ReasonBadPassword  = "BAD_PASSWORD"
	ReasonLocked       = "LOCKED"
	ReasonThrottled    = "THROTTLED"
)

// AuthResult is a new session and its token (returned to the client once, stored only hashed).
type AuthResult struct {
	Token   string
	Session *model.Session
	User    *model.User
}

// CheckPassword verifies login and password, applying throttling; it counts failures toward the
// account's throttle even when the surrounding mutation rolls back. Every refusal is the same
// UNAUTHENTICATED error; the reason code goes only to the audit event. The audit facts name the
// account signing in as the subject (by the login given when there is no such account).
func (s *Service) CheckPassword(ctx context.Context, login, password string) (*model.User, audit.Facts, error) {
	if strings.TrimSpace(login) == "" || password == "" {
		return nil, audit.Facts{}, apperr.Input("login", "login and password are required")
	}
	if len(login) > 254 || len(password) > 1024 {
		return nil, audit.Facts{}, apperr.ErrBadCredentials.WithReason(ReasonUnknownLogin)
	}
	u, err := s.checkPassword(ctx, login, password)
	if err != nil && u == nil {
		return nil, audit.Facts{Subject: &audit.Party{Login: login}}, err
	}
	facts := audit.Facts{Subject: audit.UserParty(u)}
	if err != nil {
		return nil, facts, err
	}
	return u, facts, nil
}

// checkPassword is CheckPassword after the input checks. On a refusal of an existing account it
// returns that account with the error.
func (s *Service) checkPassword(ctx context.Context, login, password string) (*model.User, error) {
	var u model.User
	err := store.Conn(ctx, s.db).Where("lower(login) = ?", strings.ToLower(strings.TrimSpace(login))).First(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		if _, _, err := s.hasher.Verify(ctx, "", password); err != nil {
			return nil, err
		}
		return nil, apperr.ErrBadCredentials.WithReason(ReasonUnknownLogin)
	}
	if err != nil {
		return nil, fmt.Errorf("load user by login: %w", err)
	}
	now := s.clock.Now()
	if u.ThrottledUntil != nil && now.Before(*u.ThrottledUntil) {
		if _, _, err := s.hasher.Verify(ctx, "", password); err != nil {
			return &u, err
		}
		return &u, apperr.ErrBadCredentials.WithReason(ReasonThrottled)
	}
	ok, rehash, err := s.hasher.Verify(ctx, u.PasswordHash, password)
	if err != nil {
		return &u, err
	}
	if !ok {
		s.recordFailure(ctx, u.ID)
		return &u, apperr.ErrBadCredentials.WithReason(ReasonBadPassword)
	}
	if u.Locked {
		return &u, apperr.ErrBadCredentials.WithReason(ReasonLocked)
	}
	updates := map[string]any{}
	if u.FailedLogins != 0 || u.ThrottledUntil != nil {
		updates["failed_logins"], updates["throttled_until"], updates["last_failed_at"] = 0, nil, nil
		u.FailedLogins, u.ThrottledUntil = 0, nil
	}
	if rehash {
		if h, err := s.hasher.Hash(ctx, password); err == nil {
			updates["password_hash"] = h
			u.PasswordHash = h
		}
	}
	if len(updates) > 0 {
		if err := store.Conn(ctx, s.db).Model(&model.User{}).Where("id = ?", u.ID).Updates(updates).Error; err != nil {
			return &u, fmt.Errorf("reset login throttle: %w", err)
		}
	}
	return &u, nil
}

// recordFailure counts a wrong password toward the account's throttle. It is registered to run even if
// the mutation's transaction rolls back (the refusal itself is an error).
func (s *Service) recordFailure(ctx context.Context, userID string) {
	store.AfterRollback(ctx, func(ctx context.Context) error {
		var u model.User
		db := store.Conn(ctx, s.db)
		if err := db.First(&u, "id = ?", userID).Error; err != nil {
			return err
		}
		now := s.clock.Now()
		n := u.FailedLogins
		if u.LastFailedAt != nil && now.Sub(*u.LastFailedAt) > failureWindow {
			n = 0
		}
		n++
		updates := map[string]any{"failed_logins": n, "last_failed_at": now}
		if d := throttleDelay(n); d > 0 {
			updates["throttled_until"] = now.Add(d)
		}
		return db.Model(&model.User{}).Where("id = ?", userID).Updates(updates).Error
	})
}

// throttleDelay is the wait imposed after the n-th consecutive failure.
func throttleDelay(n int) time.Duration {
	if n <= freeFailures {
		return 0
	}
	shift := n - freeFailures - 1
	if shift > 10 {
		return maxDelay
	}
	d := time.Second << shift
	if d > maxDelay {
		d = maxDelay
	}
	return d
}

// Login checks the password and opens an ordinary session. The audit facts name the account as
// subject and, once signed in, as actor, with the new session.
func (s *Service) Login(ctx context.Context, login, password string) (*AuthResult, audit.Facts, error) {
	u, facts, err := s.CheckPassword(ctx, login, password)
	if err != nil {
		return nil, facts, err
	}
	res, err := s.NewSession(ctx, NewSessionInput{User: u, TTL: s.opt.SessionTTL, Idle: s.opt.SessionIdle})
	if err != nil {
		return nil, facts, fmt.Errorf("login: %w", err)
	}
	facts.Actor, facts.SessionID = audit.UserParty(u), &res.Session.ID
	return res, facts, nil
}

// NewSessionInput describes a session to open.
type NewSessionInput struct {
	User     *model.User
	Operator *model.User    // login on behalf: the staff member
	Parent   *model.Session // login on behalf: the operator's own session, which bounds this one
	Reason   string
	TTL      time.Duration
	Idle     time.Duration
}

// NewSession stores a new session and returns its token.
func (s *Service) NewSession(ctx context.Context, in NewSessionInput) (*AuthResult, error) {
	now := s.clock.Now()
	m := reqctx.From(ctx)
	token := NewToken(SessionTokenPrefix)
	sess := &model.Session{
		ID: model.NewID(), TokenHash: HashToken(token), UserID: in.User.ID, Reason: in.Reason,
		CreatedAt: now, ExpiresAt: now.Add(in.TTL), IdleSeconds: int(in.Idle / time.Second), LastSeenAt: now,
		IP: m.IP, UserAgent: truncate(m.UserAgent, 512),
	}
	if in.Operator != nil {
		sess.OnBehalf = true
		sess.OperatorID = &in.Operator.ID
	}
	if in.Parent != nil {
		sess.ParentSessionID = &in.Parent.ID
		if in.Parent.ExpiresAt.Before(sess.ExpiresAt) {
			sess.ExpiresAt = in.Parent.ExpiresAt
		}
	}
	if err := store.Conn(ctx, s.db).Create(sess).Error; err != nil {
		return nil, err
	}
	return &AuthResult{Token: token, Session: sess, User: in.User}, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Logout revokes the caller's session, and with it every login-on-behalf session it opened. It reports
// false when the caller has no session (an API key).
func (s *Service) Logout(ctx context.Context) (bool, error) {
	id, err := RequireUser(ctx)
	if err != nil {
		return false, err
	}
	if id.Session == nil {
		return false, nil
	}
	return true, s.revokeSessionTree(ctx, id.Session.ID, "logout")
}

// revokeSessionTree revokes a session and the login-on-behalf sessions opened from it.
func (s *Service) revokeSessionTree(ctx context.Context, sessionID, reason string) error {
	now := s.clock.Now()
	return store.Conn(ctx, s.db).Model(&model.Session{}).
		Where("(id = ? OR parent_session_id = ?) AND revoked_at IS NULL", sessionID, sessionID).
		Updates(map[string]any{"revoked_at": now, "revoked_reason": reason}).Error
}

// RevokeSessionTree revokes a session and every login-on-behalf session opened from it.
func (s *Service) RevokeSessionTree(ctx context.Context, sessionID, reason string) error {
	return s.revokeSessionTree(ctx, sessionID, reason)
}

// Authenticate resolves a bearer credential (session token or API key) to an identity. Every check runs
// against the database on every request, so a revocation anywhere takes effect on the next request on
// every replica.
func (s *Service) Authenticate(ctx context.Context, bearer string) (*Identity, error) {
	if strings.HasPrefix(bearer, APIKeyPrefix) {
		return s.authenticateAPIKey(ctx, bearer)
	}
	if !strings.HasPrefix(bearer, SessionTokenPrefix) || len(bearer) > 200 {
		return nil, apperr.ErrUnauthenticated
	}
	now := s.clock.Now()
	db := s.db.WithContext(ctx)
	var sess model.Session
	if err := db.Where("token_hash = ?", HashToken(bearer)).First(&sess).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, apperr.ErrUnauthenticated
		}
		return nil, err
	}
	if !sessionLive(&sess, now) {
		return nil, apperr.ErrUnauthenticated
	}
	u, err := s.userByID(ctx, sess.UserID)
	if err != nil || u.Locked {
		return nil, apperr.ErrUnauthenticated
	}
	orgID, err := s.OrganizationOf(ctx, u)
	if err != nil {
		return nil, err
	}
	id := NewIdentity(u, orgID)
	id.Session = &sess
	if sess.OnBehalf {
		op, err := s.onBehalfOperator(ctx, &sess, u, now)
		if err != nil {
			return nil, apperr.ErrUnauthenticated
		}
		id.Operator = op
	}
	if now.Sub(sess.LastSeenAt) >= s.opt.LastSeenInterval {
		// Coalesced: a busy session writes at most once per interval.
		db.Model(&model.Session{}).Where("id = ? AND last_seen_at = ?", sess.ID, sess.LastSeenAt).Update("last_seen_at", now)
		sess.LastSeenAt = now
	}
	return id, nil
}

func sessionLive(sess *model.Session, now time.Time) bool {
	if sess.RevokedAt != nil || !now.Before(sess.ExpiresAt) {
		return false
	}
	return sess.IdleSeconds <= 0 || now.Sub(sess.LastSeenAt) < sess.IdleTimeout()
}

// onBehalfOperator keeps a login-on-behalf session alive only while its operator's own session
// lives, the operator is unlocked and the policy (Guard) still lets them act for the subject; it
// returns the operator. Authentication and session listings both use it, so a session listed as live
// is one whose next request would be accepted.
func (s *Service) onBehalfOperator(ctx context.Context, sess *model.Session, subject *model.User, now time.Time) (*model.User, error) {
	if sess.OperatorID == nil || subject.Locked {
		return nil, apperr.ErrUnauthenticated
	}
	op, err := s.userByID(ctx, *sess.OperatorID)
	if err != nil || op.Locked {
		return nil, apperr.ErrUnauthenticated
	}
	if sess.ParentSessionID != nil {
		var parent model.Session
		if err := s.db.WithContext(ctx).First(&parent, "id = ?", *sess.ParentSessionID).Error; err != nil {
			return nil, apperr.ErrUnauthenticated
		}
		if parent.RevokedAt != nil || !now.Before(parent.ExpiresAt) {
			return nil, apperr.ErrUnauthenticated
		}
	}
	opOrg, err := s.OrganizationOf(ctx, op)
	if err != nil {
		return nil, err
	}
	if s.guard != nil {
		if err := s.guard(ctx, op, opOrg, subject); err != nil {
			return nil, err
		}
	}
	return op, nil
}

func (s *Service) authenticateAPIKey(ctx context.Context, bearer string) (*Identity, error) {
	if len(bearer) > 200 {
		return nil, apperr.ErrUnauthenticated
	}
	now := s.clock.Now()
	db := s.db.WithContext(ctx)
	var key model.APIKey
	if err := db.Where("secret_hash = ?", HashToken(bearer)).First(&key).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, apperr.ErrUnauthenticated
		}
		return nil, err
	}
	if key.RevokedAt != nil || (key.ExpiresAt != nil && !now.Before(*key.ExpiresAt)) {
		return nil, apperr.ErrUnauthenticated
	}
	u, err := s.userByID(ctx, key.UserID)
	if err != nil || u.Locked {
		return nil, apperr.ErrUnauthenticated
	}
	orgID, err := s.OrganizationOf(ctx, u)
	if err != nil {
		return nil, err
	}
	if key.LastUsedAt == nil || now.Sub(*key.LastUsedAt) >= s.opt.LastSeenInterval {
		db.Model(&model.APIKey{}).Where("id = ?", key.ID).Update("last_used_at", now)
		key.LastUsedAt = &now
	}
	id := NewIdentity(u, orgID)
	id.APIKey = &key
	return id, nil
}

// SessionLive reports whether sess is usable at now: not revoked, not expired, not idle too long.
func SessionLive(sess *model.Session, now time.Time) bool { return sessionLive(sess, now) }

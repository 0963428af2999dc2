package security

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"behalf/apperr"
	"behalf/audit"
	"behalf/model"
	"behalf/reqctx"
	"behalf/store"

	"github.com/rs/zerolog"
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

// CheckPassword verifies login and password, applying the per-address and per-account throttles.
// Every refusal is the same UNAUTHENTICATED error (or TOO_MANY_REQUESTS); the reason code goes only
// to the audit event. The audit facts name the account signing in as the subject (by the login given
// when there is no such account). No connection or transaction is held while the password hashes:
// the user is read outside the caller's transaction, and the attempt is counted (and, after a
// success, the count reset) in statements of their own, which stand even if the caller's mutation
// then fails.
func (s *Service) CheckPassword(ctx context.Context, login, password string) (*model.User, audit.Facts, error) {
	if strings.TrimSpace(login) == "" || password == "" {
		return nil, audit.Facts{}, apperr.Input("login", "login and password are required")
	}
	if len(login) > 254 || len(password) > 1024 {
		return nil, audit.Facts{}, apperr.ErrBadCredentials.WithReason(ReasonUnknownLogin)
	}
	u, err := s.checkPassword(ctx, login, password)
	s.countLoginFailure(err)
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
	ip := reqctx.From(ctx).IP
	if err := s.ipLim.Check(ip); err != nil {
		return nil, err
	}
	// The slot first: a refusal for load costs no statement, and every attempt counted below is
	// also hashed.
	release, err := s.hasher.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	var u model.User
	// Deliberately not store.Conn: the caller's transaction must not begin before the hash.
	err = s.db.WithContext(ctx).Where("lower(login) = ?", strings.ToLower(strings.TrimSpace(login))).First(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		if _, _, err := s.hasher.verifyHeld(ctx, "", password); err != nil { // as slow as a wrong password
			return nil, err
		}
		s.ipLim.Fail(ip)
		return nil, apperr.ErrBadCredentials.WithReason(ReasonUnknownLogin)
	}
	if err != nil {
		return nil, fmt.Errorf("load user by login: %w", err)
	}
	admitted, err := s.countAttempt(ctx, u.ID)
	if err != nil {
		return &u, err
	}
	if !admitted {
		if _, _, err := s.hasher.verifyHeld(ctx, "", password); err != nil { // as slow as a wrong password
			return &u, err
		}
		s.ipLim.Fail(ip)
		return &u, apperr.ErrBadCredentials.WithReason(ReasonThrottled)
	}
	ok, rehash, err := s.hasher.verifyHeld(ctx, u.PasswordHash, password)
	if err != nil {
		return &u, err
	}
	if !ok {
		s.ipLim.Fail(ip)
		return &u, apperr.ErrBadCredentials.WithReason(ReasonBadPassword)
	}
	if u.Locked {
		return &u, apperr.ErrBadCredentials.WithReason(ReasonLocked)
	}
	reset := map[string]any{"failed_logins": 0, "throttled_until": nil, "last_failed_at": nil}
	u.FailedLogins, u.ThrottledUntil, u.LastFailedAt = 0, nil, nil
	if rehash {
		h, err := s.hasher.hashHeld(ctx, password)
		if err != nil {
			return &u, err
		}
		reset["password_hash"] = h
		u.PasswordHash = h
	}
	if err := s.db.WithContext(ctx).Model(&model.User{}).Where("id = ?", u.ID).Updates(reset).Error; err != nil {
		return &u, fmt.Errorf("reset login throttle: %w", err)
	}
	return &u, nil
}

// countAttempt counts one password attempt against the account before it is hashed, in one atomic
// statement that also checks and sets the throttle: of any number of concurrent attempts, only those
// the throttle admits get a count and a hash, exactly as if they came one after another. A success
// resets the count. It reports whether the attempt is admitted. The statement commits on its own
// (not in the caller's transaction), so a refusal that rolls the mutation back still counts.
func (s *Service) countAttempt(ctx context.Context, userID string) (bool, error) {
	now := s.clock.Now()
	n := "(CASE WHEN last_failed_at IS NULL OR last_failed_at < ? THEN 1 ELSE failed_logins + 1 END)"
	windowStart := now.Add(-failureWindow)
	args := []any{windowStart, now}
	ts := "?"
	if store.Dialect(s.db) == store.Postgres {
		ts = "CAST(? AS timestamptz)"
	}
	until := "CASE WHEN " + n + " <= ? THEN NULL"
	args = append(args, windowStart, freeFailures)
	for k := freeFailures + 1; throttleDelay(k) < maxDelay; k++ {
		until += " WHEN " + n + " = ? THEN " + ts
		args = append(args, windowStart, k, now.Add(throttleDelay(k)))
	}
	until += " ELSE " + ts + " END"
	args = append(args, now.Add(maxDelay), userID, now)
	var counts []int
	err := s.db.WithContext(ctx).Raw("UPDATE users SET failed_logins = "+n+", last_failed_at = ?, throttled_until = "+until+
		" WHERE id = ? AND (throttled_until IS NULL OR throttled_until <= ?) RETURNING failed_logins", args...).Scan(&counts).Error
	if err != nil {
		return false, fmt.Errorf("count login attempt: %w", err)
	}
	if len(counts) == 1 && counts[0] > freeFailures {
		s.opt.Metrics.LoginThrottled()
	}
	return len(counts) == 1, nil
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
	if err := store.Conn(ctx, s.db).Model(&model.Session{}).
		Where("(id = ? OR parent_session_id = ?) AND revoked_at IS NULL", sessionID, sessionID).
		Updates(map[string]any{"revoked_at": now, "revoked_reason": reason}).Error; err != nil {
		return fmt.Errorf("revoke session %s: %w", sessionID, err)
	}
	// Cached entries of the login-on-behalf sessions opened from it depend on it too.
	return store.Publish(ctx, s.db, store.SessionKey(sessionID))
}

// RevokeSessionTree revokes a session and every login-on-behalf session opened from it.
func (s *Service) RevokeSessionTree(ctx context.Context, sessionID, reason string) error {
	return s.revokeSessionTree(ctx, sessionID, reason)
}

// Authenticate resolves a bearer credential (session token or API key) to an identity. In steady state
// it answers from the identity cache without a database statement: the cache holds what the database
// said about the credential until a change to it is published on the change bus (store.Publish), and
// it is bypassed whenever this replica cannot be sure to hear every change (store.Bus.Trusted). Expiry
// and idle timeouts are checked against the clock on every request; the cache never extends a lifetime.
// Last-seen stamps are kept in memory and written in the background (FlushLastSeen).
func (s *Service) Authenticate(ctx context.Context, bearer string) (*Identity, error) {
	isKey := strings.HasPrefix(bearer, APIKeyPrefix)
	if len(bearer) > 200 || (!isKey && !strings.HasPrefix(bearer, SessionTokenPrefix)) {
		return nil, apperr.ErrUnauthenticated
	}
	h := sha256.Sum256([]byte(bearer))
	now := s.clock.Now()
	var gen uint64
	useCache := s.cache != nil && s.bus.Trusted()
	if useCache {
		e, g, ok := s.cache.get(h)
		if ok {
			id, v := s.fromEntry(e, now)
			switch v {
			case entryLive:
				return id, nil
			case entryDead:
				s.cache.drop(h)
				return nil, apperr.ErrUnauthenticated
			}
			// Idle by this replica's account: another replica may have seen it since; ask the database.
			s.cache.drop(h)
		}
		gen = g
	}
	var e *authEntry
	var err error
	if isKey {
		e, err = s.loadAPIKey(ctx, h[:])
	} else {
		e, err = s.loadSession(ctx, h[:], now)
	}
	if err != nil {
		return nil, err
	}
	id, v := s.fromEntry(e, now)
	if v != entryLive {
		return nil, apperr.ErrUnauthenticated
	}
	if useCache {
		s.cache.put(h, e, gen)
	}
	return id, nil
}

// Verdicts of fromEntry.
const (
	entryLive    = iota // usable now
	entryDead           // expired for good
	entryRecheck        // idle as far as this process knows: the database has the last word
)

// fromEntry applies the time-dependent rules to a cached or freshly loaded entry and, if it is usable
// now, stamps its use and returns the request's identity.
func (s *Service) fromEntry(e *authEntry, now time.Time) (*Identity, int) {
	if k := e.apiKey; k != nil {
		if k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) {
			return nil, entryDead
		}
		s.touches.touchKey(k.ID, now)
		return &Identity{User: e.user, APIKey: k, OrganizationID: e.orgID, perms: e.perms}, entryLive
	}
	sess := e.session
	if !now.Before(sess.ExpiresAt) {
		return nil, entryDead
	}
	if p := e.parent; p != nil {
		// The operator's own session bounds this one; using this one does not keep that one alive.
		if !now.Before(p.ExpiresAt) {
			return nil, entryDead
		}
		if p.IdleSeconds > 0 && now.Sub(s.lastSeen(p)) >= p.IdleTimeout() {
			return nil, entryRecheck
		}
	}
	if !s.touches.seen(sess.ID, sess.LastSeenAt, now, sess.IdleTimeout()) {
		return nil, entryRecheck
	}
	cp := *sess
	cp.LastSeenAt = now
	return &Identity{User: e.user, Operator: e.operator, Session: &cp, OrganizationID: e.orgID, perms: e.perms}, entryLive
}

// loadSession reads what Authenticate needs about a session token from the database. Refusals are
// UNAUTHENTICATED; a database error is returned as such (the caller answers 503, not 401).
func (s *Service) loadSession(ctx context.Context, tokenHash []byte, now time.Time) (*authEntry, error) {
	var sess model.Session
	if err := s.db.WithContext(ctx).Where("token_hash = ?", tokenHash).First(&sess).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, apperr.ErrUnauthenticated
		}
		return nil, fmt.Errorf("authenticate: load session: %w", err)
	}
	sess.LastSeenAt = s.lastSeen(&sess)
	if !sessionLive(&sess, now) {
		return nil, apperr.ErrUnauthenticated
	}
	u, err := s.authUser(ctx, sess.UserID)
	if err != nil {
		return nil, err
	}
	orgID, err := s.OrganizationOf(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("authenticate: organization: %w", err)
	}
	e := &authEntry{user: u, orgID: orgID, perms: PermissionsOf(u.Roles), session: &sess}
	if sess.OnBehalf {
		op, parent, err := s.onBehalfOperator(ctx, &sess, u, now)
		if err != nil {
			return nil, err
		}
		e.operator, e.parent = op, parent
	}
	return e, nil
}

// authUser loads an unlocked user for Authenticate: UNAUTHENTICATED when missing or locked.
func (s *Service) authUser(ctx context.Context, id string) (*model.User, error) {
	u, err := s.userByID(ctx, id)
	if errors.Is(err, apperr.ErrNotFound) {
		return nil, apperr.ErrUnauthenticated
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: load user: %w", err)
	}
	if u.Locked {
		return nil, apperr.ErrUnauthenticated
	}
	// An identity never needs the password hash; it would stay in the cache's memory for nothing.
	u.PasswordHash = ""
	return u, nil
}

func sessionLive(sess *model.Session, now time.Time) bool {
	if sess.RevokedAt != nil || !now.Before(sess.ExpiresAt) {
		return false
	}
	return sess.IdleSeconds <= 0 || now.Sub(sess.LastSeenAt) < sess.IdleTimeout()
}

// onBehalfOperator keeps a login-on-behalf session alive only while its operator's own session
// lives, the operator is unlocked and the policy (Guard) still lets them act for the subject; it
// returns the operator and their own session. Authentication and session listings both use it, so a
// session listed as live is one whose next request would be accepted. When the operator's session went
// idle or the policy refuses (the operator lost the permission, the customer became staff, …), the
// login-on-behalf session is revoked for good: restoring a role later does not revive it.
func (s *Service) onBehalfOperator(ctx context.Context, sess *model.Session, subject *model.User, now time.Time) (*model.User, *model.Session, error) {
	if sess.OperatorID == nil || subject.Locked {
		return nil, nil, apperr.ErrUnauthenticated
	}
	op, err := s.authUser(ctx, *sess.OperatorID)
	if err != nil {
		return nil, nil, err
	}
	var parent *model.Session
	if sess.ParentSessionID != nil {
		var p model.Session
		if err := s.db.WithContext(ctx).First(&p, "id = ?", *sess.ParentSessionID).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return nil, nil, apperr.ErrUnauthenticated
			}
			return nil, nil, fmt.Errorf("authenticate: load operator session: %w", err)
		}
		p.LastSeenAt = s.lastSeen(&p)
		if p.RevokedAt != nil || !now.Before(p.ExpiresAt) {
			return nil, nil, apperr.ErrUnauthenticated
		}
		if !sessionLive(&p, now) {
			s.endOnBehalfSession(ctx, sess, "operator session idle")
			return nil, nil, apperr.ErrUnauthenticated
		}
		parent = &p
	}
	opOrg, err := s.OrganizationOf(ctx, op)
	if err != nil {
		return nil, nil, fmt.Errorf("authenticate: operator organization: %w", err)
	}
	if s.guard != nil {
		if err := s.guard(ctx, op, opOrg, subject); err != nil {
			e, refused := apperr.As(err)
			if !refused {
				return nil, nil, fmt.Errorf("authenticate: on-behalf policy: %w", err)
			}
			s.endOnBehalfSession(ctx, sess, "policy refused: "+e.Reason)
			return nil, nil, apperr.ErrUnauthenticated
		}
	}
	return op, parent, nil
}

// endOnBehalfSession revokes a login-on-behalf session that may no longer be used, so that it stays
// ended whatever changes later. A failure to write it is logged (the request is refused anyway).
func (s *Service) endOnBehalfSession(ctx context.Context, sess *model.Session, reason string) {
	if sess.RevokedAt != nil {
		return
	}
	if err := s.revokeSessionTree(ctx, sess.ID, reason); err != nil {
		zerolog.Ctx(ctx).Error().Err(err).Str("onbehalf_session_id", sess.ID).Msg("revoking an ended login-on-behalf session failed")
		return
	}
	zerolog.Ctx(ctx).Info().Str("onbehalf_session_id", sess.ID).Str("reason", reason).Msg("login-on-behalf session ended")
}

// loadAPIKey reads what Authenticate needs about an API key from the database.
func (s *Service) loadAPIKey(ctx context.Context, secretHash []byte) (*authEntry, error) {
	var key model.APIKey
	if err := s.db.WithContext(ctx).Where("secret_hash = ?", secretHash).First(&key).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, apperr.ErrUnauthenticated
		}
		return nil, fmt.Errorf("authenticate: load API key: %w", err)
	}
	if key.RevokedAt != nil {
		return nil, apperr.ErrUnauthenticated
	}
	u, err := s.authUser(ctx, key.UserID)
	if err != nil {
		return nil, err
	}
	orgID, err := s.OrganizationOf(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("authenticate: organization: %w", err)
	}
	return &authEntry{user: u, orgID: orgID, perms: PermissionsOf(u.Roles), apiKey: &key}, nil
}

// SessionLive reports whether sess is usable at now: not revoked, not expired, not idle too long.
func SessionLive(sess *model.Session, now time.Time) bool { return sessionLive(sess, now) }

// countLoginFailure counts a refused password check by its reason code.
func (s *Service) countLoginFailure(err error) {
	if e, ok := apperr.As(err); ok && e.Code == apperr.Unauthenticated {
		s.opt.Metrics.LoginFailed(e.Reason)
	}
}

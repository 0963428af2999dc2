// Package security owns users, passwords, roles and permissions, sessions and API keys: who a request
// is, and what it may do.
package security

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"behalf/apperr"
	"behalf/audit"
	"behalf/internal/clock"
	"behalf/metrics"
	"behalf/model"
	"behalf/store"

	"gorm.io/gorm"
)

// Options configure the security service.
type Options struct {
	SessionTTL       time.Duration // absolute lifetime of an ordinary session
	SessionIdle      time.Duration // idle timeout of an ordinary session
	OnBehalfTTL      time.Duration // absolute lifetime of a login-on-behalf session
	OnBehalfIdle     time.Duration // idle timeout of a login-on-behalf session
	LastSeenInterval time.Duration // how stale last-seen stamps may get before a write
	// LoginIPFailures wrong passwords per LoginIPWindow from one client address (0: no limit).
	LoginIPFailures int
	LoginIPWindow   time.Duration
	// IdentityCacheSize bounds the credentials whose identity Authenticate keeps in memory; 0 turns the
	// cache off. The cache needs a change bus installed on the database handle (store.InstallBus).
	IdentityCacheSize int
	// Metrics counts login failures and throttles; nil counts nothing.
	Metrics *metrics.Metrics
}

// DefaultOptions are the contract's defaults.
var DefaultOptions = Options{
	SessionTTL: 12 * time.Hour, SessionIdle: time.Hour,
	OnBehalfTTL: 60 * time.Minute, OnBehalfIdle: 15 * time.Minute,
	LastSeenInterval: time.Minute,
}

// OnBehalfGuard re-checks, on every request of a login-on-behalf session, that the operator may still
// act for the subject. The onbehalf package's policy provides it; nil means only the built-in checks
// apply (tools that never authenticate a login-on-behalf session).
type OnBehalfGuard func(ctx context.Context, operator *model.User, operatorOrgID string, subject *model.User) error

// Service is the security domain.
type Service struct {
	db     *gorm.DB
	clock  clock.Clock
	hasher *Hasher
	opt    Options
	ipLim  *IPLimiter
	guard  OnBehalfGuard

	bus     *store.Bus     // nil: no change bus installed, no identity cache
	cache   *identityCache // nil: every request reads the database
	touches *touchLog      // last-seen and last-used stamps not yet written
}

// New returns the security service; guard re-checks running login-on-behalf sessions. If db carries a
// change bus (store.InstallBus) and opt.IdentityCacheSize > 0, Authenticate caches identities and the
// bus invalidates them.
func New(db *gorm.DB, c clock.Clock, h *Hasher, opt Options, guard OnBehalfGuard) *Service {
	s := &Service{db: db, clock: c, hasher: h, opt: opt, guard: guard, touches: newTouchLog(),
		ipLim: NewIPLimiter(opt.LoginIPFailures, opt.LoginIPWindow, c.Now)}
	s.bus = store.BusOf(db)
	if s.bus != nil && opt.IdentityCacheSize > 0 {
		s.cache = newIdentityCache(opt.IdentityCacheSize)
		s.bus.Subscribe(s.cache.invalidate)
	}
	return s
}

// CachedIdentities returns how many credentials the identity cache holds (for tests and metrics).
func (s *Service) CachedIdentities() int {
	if s.cache == nil {
		return 0
	}
	return s.cache.len()
}

// IPRetryAfter is how long an address refused for too many wrong passwords should wait.
func (s *Service) IPRetryAfter() time.Duration { return s.ipLim.RetryAfter() }

// Options returns the service's settings.
func (s *Service) Options() Options { return s.opt }

// Hasher returns the password hasher.
func (s *Service) Hasher() *Hasher { return s.hasher }

// Clock returns the service's clock.
func (s *Service) Clock() clock.Clock { return s.clock }

// HashToken is how session tokens, tickets and API keys are stored: SHA-256 (they are 256-bit random,
// so a fast hash is enough; a leaked table gives no usable token).
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// NewToken returns prefix + 256 random bits, base64url.
func NewToken(prefix string) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

var loginRe = regexp.MustCompile(`^[A-Za-z0-9._@-]{3,64}$`)

// ValidateEmail checks an email address.
func ValidateEmail(field, email string) error {
	if len(email) > 254 {
		return apperr.Input(field, "email is too long")
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || !strings.Contains(email, "@") {
		return apperr.Input(field, "email is not a valid address")
	}
	return nil
}

// ValidatePassword applies the password policy: 12–256 characters, not the login or email, not a
// commonly used password.
func ValidatePassword(password, login, email string) error {
	n := len([]rune(password))
	if n < 12 {
		return apperr.Input("password", "password must be at least 12 characters")
	}
	if len(password) > 256 {
		return apperr.Input("password", "password must be at most 256 characters")
	}
	lp := strings.ToLower(password)
	if lp == strings.ToLower(login) || lp == strings.ToLower(email) {
		return apperr.Input("password", "password must differ from login and email")
	}
	if IsCommonPassword(lp) {
		return apperr.Input("password", "password is too common")
	}
	return nil
}

// CreateUserInput is what createUser takes.
type CreateUserInput struct {
	Login     string
	Email     string
	Password  string
	Roles     []string
	ContactID *string
}

// CreateUser creates an active user (security:write); the audit facts name the new user as subject.
func (s *Service) CreateUser(ctx context.Context, in CreateUserInput) (*model.User, audit.Facts, error) {
	if _, err := Require(ctx, PermSecurityWrite); err != nil {
		return nil, audit.Facts{}, err
	}
	u, err := s.CreateUserUnchecked(ctx, in)
	if err != nil {
		return nil, audit.Facts{}, fmt.Errorf("create user: %w", err)
	}
	return u, audit.Facts{Subject: audit.UserParty(u)}, nil
}

// CreateUserUnchecked creates a user without a permission check: for the CLI and demo data.
func (s *Service) CreateUserUnchecked(ctx context.Context, in CreateUserInput) (*model.User, error) {
	in.Login = strings.TrimSpace(in.Login)
	in.Email = strings.TrimSpace(in.Email)
	if !loginRe.MatchString(in.Login) {
		return nil, apperr.Input("login", "login must be 3–64 letters, digits or . _ - @")
	}
	if err := ValidateEmail("email", in.Email); err != nil {
		return nil, err
	}
	if err := ValidatePassword(in.Password, in.Login, in.Email); err != nil {
		return nil, err
	}
	if err := validateRoles(in.Roles); err != nil {
		return nil, err
	}
	db := store.Conn(ctx, s.db)
	if in.ContactID != nil {
		var n int64
		if err := db.Model(&model.Contact{}).Where("id = ?", *in.ContactID).Count(&n).Error; err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, apperr.Input("contactId", "contact does not exist")
		}
	}
	if err := s.checkUnique(ctx, "", in.Login, in.Email); err != nil {
		return nil, err
	}
	hash, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	u := &model.User{
		ID: model.NewID(), Login: in.Login, Email: in.Email, PasswordHash: hash,
		Roles: model.StringList(in.Roles), ContactID: in.ContactID,
	}
	u.SearchText = s.userSearchText(ctx, u)
	if err := db.Create(u).Error; err != nil {
		if store.IsUniqueViolation(err) {
			return nil, apperr.New(apperr.Conflict, "login or email already in use")
		}
		return nil, err
	}
	return u, nil
}

func validateRoles(roles []string) error {
	if len(roles) == 0 {
		return apperr.Input("roles", "at least one role is required")
	}
	seen := map[string]bool{}
	for _, r := range roles {
		if !ValidRole(r) {
			return apperr.Input("roles", "unknown role "+quote(r))
		}
		if seen[r] {
			return apperr.Input("roles", "duplicate role "+quote(r))
		}
		seen[r] = true
	}
	return nil
}

func quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return `"` + s + `"`
}

func (s *Service) checkUnique(ctx context.Context, exceptID, login, email string) error {
	q := store.Conn(ctx, s.db).Model(&model.User{})
	if exceptID != "" {
		q = q.Where("id <> ?", exceptID)
	}
	cond := s.db.Where("lower(email) = ?", strings.ToLower(email))
	if login != "" {
		cond = cond.Or("lower(login) = ?", strings.ToLower(login))
	}
	var n int64
	if err := q.Where(cond).Count(&n).Error; err != nil {
		return err
	}
	if n > 0 {
		return apperr.New(apperr.Conflict, "login or email already in use")
	}
	return nil
}

func (s *Service) userSearchText(ctx context.Context, u *model.User) string {
	parts := []string{u.Login, u.Email}
	if u.ContactID != nil {
		var c model.Contact
		if store.Conn(ctx, s.db).First(&c, "id = ?", *u.ContactID).Error == nil {
			parts = append(parts, c.FirstName, c.LastName)
		}
	}
	return store.SearchText(parts...)
}

// UpdateUserInput is what updateUser takes; nil fields stay unchanged.
type UpdateUserInput struct {
	ID     string
	Email  *string
	Roles  []string
	Locked *bool
}

// UpdateUser changes a user's email, roles or lock (security:write). Locking revokes every session the
// user holds or operates. The audit facts name the user as subject, also when the change is refused.
func (s *Service) UpdateUser(ctx context.Context, in UpdateUserInput) (*model.User, audit.Facts, error) {
	if _, err := Require(ctx, PermSecurityWrite); err != nil {
		return nil, audit.Facts{}, err
	}
	u, err := s.userByID(ctx, in.ID)
	if err != nil {
		return nil, audit.Facts{}, err
	}
	facts := audit.Facts{Subject: audit.UserParty(u)}
	u, err = s.updateUser(ctx, u, in)
	if err != nil {
		return nil, facts, fmt.Errorf("update user %s: %w", in.ID, err)
	}
	return u, facts, nil
}

func (s *Service) updateUser(ctx context.Context, u *model.User, in UpdateUserInput) (*model.User, error) {
	db := store.Conn(ctx, s.db)
	if in.Email != nil {
		e := strings.TrimSpace(*in.Email)
		if err := ValidateEmail("email", e); err != nil {
			return nil, err
		}
		if err := s.checkUnique(ctx, u.ID, "", e); err != nil {
			return nil, err
		}
		u.Email = e
	}
	if in.Roles != nil {
		if err := validateRoles(in.Roles); err != nil {
			return nil, err
		}
		u.Roles = model.StringList(in.Roles)
	}
	lockNow := false
	if in.Locked != nil {
		lockNow = *in.Locked && !u.Locked
		u.Locked = *in.Locked
		if !u.Locked {
			u.FailedLogins, u.ThrottledUntil = 0, nil
		}
	}
	u.SearchText = s.userSearchText(ctx, u)
	u.UpdatedAt = s.clock.Now()
	if err := db.Select("email", "roles", "locked", "failed_logins", "throttled_until", "search_text", "updated_at").Updates(u).Error; err != nil {
		if store.IsUniqueViolation(err) {
			return nil, apperr.New(apperr.Conflict, "login or email already in use")
		}
		return nil, err
	}
	if lockNow {
		if _, err := s.RevokeUserSessions(ctx, u.ID, "user locked"); err != nil {
			return nil, err
		}
		if err := s.revokeUserAPIKeys(ctx, u.ID); err != nil {
			return nil, fmt.Errorf("update user: %w", err)
		}
	}
	if in.Roles != nil {
		if err := s.endIneligibleOnBehalf(ctx, u); err != nil {
			return nil, fmt.Errorf("update user: %w", err)
		}
	}
	if err := store.Publish(ctx, s.db, store.UserKey(u.ID)); err != nil {
		return nil, err
	}
	return u, nil
}

// endIneligibleOnBehalf revokes, for good, the live login-on-behalf sessions in which u (whose roles
// just changed) is operator or customer and which the policy no longer allows: an operator who lost
// the permission, a customer who became staff. Restoring the role later does not revive them.
func (s *Service) endIneligibleOnBehalf(ctx context.Context, u *model.User) error {
	if s.guard == nil {
		return nil
	}
	now := s.clock.Now()
	db := store.Conn(ctx, s.db)
	var live []*model.Session
	if err := db.Where("on_behalf = ? AND (user_id = ? OR operator_id = ?) AND revoked_at IS NULL AND expires_at > ?", true, u.ID, u.ID, now).
		Find(&live).Error; err != nil {
		return fmt.Errorf("list login-on-behalf sessions: %w", err)
	}
	for _, sess := range live {
		if sess.OperatorID == nil {
			continue
		}
		op, subject := u, u
		var err error
		if sess.UserID == u.ID {
			op, err = s.userByID(ctx, *sess.OperatorID)
		} else {
			subject, err = s.userByID(ctx, sess.UserID)
		}
		if err != nil {
			return err
		}
		opOrg, err := s.OrganizationOf(ctx, op)
		if err != nil {
			return err
		}
		gerr := s.guard(ctx, op, opOrg, subject)
		if gerr == nil {
			continue
		}
		e, refused := apperr.As(gerr)
		if !refused {
			return gerr
		}
		if err := s.revokeSessionTree(ctx, sess.ID, "policy refused: "+e.Reason); err != nil {
			return err
		}
	}
	return nil
}

// RevokeUserSessions revokes every live session the user holds or operates; returns how many.
func (s *Service) RevokeUserSessions(ctx context.Context, userID, reason string) (int, error) {
	now := s.clock.Now()
	res := store.Conn(ctx, s.db).Model(&model.Session{}).
		Where("(user_id = ? OR operator_id = ?) AND revoked_at IS NULL AND expires_at > ?", userID, userID, now).
		Updates(map[string]any{"revoked_at": now, "revoked_reason": reason})
	if res.Error != nil {
		return 0, fmt.Errorf("revoke sessions of %s: %w", userID, res.Error)
	}
	return int(res.RowsAffected), store.Publish(ctx, s.db, store.UserKey(userID))
}

func (s *Service) userByID(ctx context.Context, id string) (*model.User, error) {
	var u model.User
	err := store.Conn(ctx, s.db).First(&u, "id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, apperr.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// UserByID returns a user without a permission check, for field resolvers whose parent was already
// authorized (a session's operator, an audit event's actor).
func (s *Service) UserByID(ctx context.Context, id string) (*model.User, error) {
	return s.userByID(ctx, id)
}

// UsersByIDs loads users by id, in the order of ids (nil where missing); for dataloaders.
func (s *Service) UsersByIDs(ctx context.Context, ids []string) ([]*model.User, error) {
	return store.ByIDs(ctx, s.db, ids, func(x *model.User) string { return x.ID })
}

// GetUser returns a user: oneself, or any with security:read.
func (s *Service) GetUser(ctx context.Context, id string) (*model.User, error) {
	me, err := RequireUser(ctx)
	if err != nil {
		return nil, err
	}
	if me.User.ID != id && !me.Has(PermSecurityRead) {
		return nil, apperr.ErrForbidden
	}
	u, err := s.userByID(ctx, id)
	if errors.Is(err, apperr.ErrNotFound) {
		return nil, nil
	}
	return u, err
}

// ListUsers searches users by words of login, email and contact name (security:read).
func (s *Service) ListUsers(ctx context.Context, search *string, page store.PageArgs) (*model.UserConnection, error) {
	if _, err := Require(ctx, PermSecurityRead); err != nil {
		return nil, err
	}
	q := store.MatchWords(s.db.WithContext(ctx).Model(&model.User{}), "users", search)
	return store.Page(ctx, q, page, false, func(u *model.User) string { return u.ID })
}

// AccountsOfContact lists the users linked to a contact.
func (s *Service) AccountsOfContact(ctx context.Context, contactID string) ([]*model.User, error) {
	var us []*model.User
	err := s.db.WithContext(ctx).Where("contact_id = ?", contactID).Order("id").Find(&us).Error
	return us, err
}

// OrganizationOf returns the organization id of the user's contact, or "".
func (s *Service) OrganizationOf(ctx context.Context, u *model.User) (string, error) {
	if u.ContactID == nil {
		return "", nil
	}
	var org []*string
	err := s.db.WithContext(ctx).Model(&model.Contact{}).Where("id = ?", *u.ContactID).Pluck("organization_id", &org).Error
	if err != nil || len(org) == 0 || org[0] == nil {
		return "", err
	}
	return *org[0], nil
}

package security

import (
	"context"
	"errors"
	"fmt"

	"behalf/apperr"
	"behalf/audit"
	"behalf/model"
	"behalf/store"

	"gorm.io/gorm"
)

// Who may see and revoke a session: its user (whose account it acts in), its operator (the staff member
// acting in a login-on-behalf session: it is theirs too), or anyone holding security:sessions. To
// everyone else a session id does not exist (NOT_FOUND), so other users' session ids are not revealed.

// MySessions lists the caller's live sessions: those acting in their account (including login-on-behalf
// sessions staff opened in it, with the operator shown) and the login-on-behalf sessions they operate.
func (s *Service) MySessions(ctx context.Context) ([]*model.Session, error) {
	id, err := RequireUser(ctx)
	if err != nil {
		return nil, err
	}
	if id.APIKey != nil {
		return nil, apperr.ErrForbidden
	}
	return s.liveSessionsOf(ctx, id.User.ID)
}

// Sessions lists a user's live sessions, as MySessions shows them to that user (security:read).
func (s *Service) Sessions(ctx context.Context, userID string) ([]*model.Session, error) {
	id, err := Require(ctx, PermSecurityRead)
	if err != nil {
		return nil, err
	}
	if id.APIKey != nil {
		return nil, apperr.ErrForbidden
	}
	if _, err := s.userByID(ctx, userID); err != nil {
		return nil, err
	}
	return s.liveSessionsOf(ctx, userID)
}

// liveSessionsOf returns the live sessions the user holds or operates, newest first. Liveness is what
// Authenticate enforces: not revoked, before the absolute expiry, within the idle timeout, and for a
// login-on-behalf session, its operator's own session still live.
func (s *Service) liveSessionsOf(ctx context.Context, userID string) ([]*model.Session, error) {
	now := s.clock.Now()
	db := store.Conn(ctx, s.db)
	var all []*model.Session
	if err := db.Where("(user_id = ? OR operator_id = ?) AND revoked_at IS NULL AND expires_at > ?", userID, userID, now).
		Order("id DESC").Find(&all).Error; err != nil {
		return nil, err
	}
	out := make([]*model.Session, 0, len(all))
	for _, sess := range all {
		sess.LastSeenAt = s.lastSeen(sess)
		if !sessionLive(sess, now) {
			continue
		}
		if sess.OnBehalf {
			subject, err := s.userByID(ctx, sess.UserID)
			if err != nil {
				continue
			}
			if _, _, err := s.onBehalfOperator(ctx, sess, subject, now); err != nil {
				continue
			}
		}
		out = append(out, sess)
	}
	return out, nil
}

// RevokeSession revokes a session and the login-on-behalf sessions opened from it. The caller must be
// the session's user or operator, or hold security:sessions; otherwise the session is NOT_FOUND. It
// reports false when the session had already ended. The audit facts name the session's user as subject.
func (s *Service) RevokeSession(ctx context.Context, sessionID string) (bool, audit.Facts, error) {
	id, err := s.requireOwnSession(ctx)
	if err != nil {
		return false, audit.Facts{}, err
	}
	var sess model.Session
	err = store.Conn(ctx, s.db).First(&sess, "id = ?", sessionID).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return false, audit.Facts{}, apperr.ErrNotFound
	}
	if err != nil {
		return false, audit.Facts{}, fmt.Errorf("load session %s: %w", sessionID, err)
	}
	if !holdsSession(id, &sess) && !id.Has(PermSecuritySessions) {
		return false, audit.Facts{}, apperr.ErrNotFound
	}
	subject, err := s.userByID(ctx, sess.UserID)
	if err != nil {
		return false, audit.Facts{}, err
	}
	facts := audit.Facts{Subject: audit.UserParty(subject)}
	if sess.RevokedAt != nil || !s.clock.Now().Before(sess.ExpiresAt) {
		return false, facts, nil
	}
	if err := s.revokeSessionTree(ctx, sess.ID, "revoked by "+id.Actor().Login); err != nil {
		return false, facts, fmt.Errorf("revoke session %s: %w", sess.ID, err)
	}
	return true, facts, nil
}

// holdsSession reports whether the session is the identity's own: it acts in their account or they
// operate it.
func holdsSession(id *Identity, sess *model.Session) bool {
	return sess.UserID == id.User.ID || (sess.OperatorID != nil && *sess.OperatorID == id.User.ID)
}

// RevokeAllSessions revokes every live session a user holds or operates, the caller's current one
// included when it is their own (oneself, or security:sessions); returns how many were live. The audit
// facts name the user as subject.
func (s *Service) RevokeAllSessions(ctx context.Context, userID string) (int, audit.Facts, error) {
	id, err := s.requireOwnSession(ctx)
	if err != nil {
		return 0, audit.Facts{}, err
	}
	if userID != id.User.ID && !id.Has(PermSecuritySessions) {
		return 0, audit.Facts{}, apperr.ErrForbidden
	}
	subject, err := s.userByID(ctx, userID)
	if err != nil {
		return 0, audit.Facts{}, err
	}
	facts := audit.Facts{Subject: audit.UserParty(subject)}
	live, err := s.liveSessionsOf(ctx, userID)
	if err != nil {
		return 0, facts, err
	}
	// The login-on-behalf sessions opened from the user's own sessions are among those they operate.
	if _, err := s.RevokeUserSessions(ctx, userID, "all sessions revoked by "+id.Actor().Login); err != nil {
		return 0, facts, fmt.Errorf("revoke sessions of %s: %w", userID, err)
	}
	return len(live), facts, nil
}

// ChangePassword replaces the caller's password after checking the current one (a wrong one is
// UNAUTHENTICATED and counts toward the account's throttle, like a failed login). The new password must
// satisfy the policy and differ from the current one. Every other session the caller holds, and every
// login-on-behalf session they operate, is revoked; the current session stays.
func (s *Service) ChangePassword(ctx context.Context, currentPassword, newPassword string) error {
	id, err := s.requireOwnSession(ctx)
	if err != nil {
		return err
	}
	if currentPassword == "" {
		return apperr.Input("currentPassword", "current password is required")
	}
	u, _, err := s.CheckPassword(ctx, id.User.Login, currentPassword)
	if err != nil {
		return err
	}
	if err := ValidatePassword(newPassword, u.Login, u.Email); err != nil {
		return onField(err, "newPassword")
	}
	if newPassword == currentPassword {
		return apperr.Input("newPassword", "new password must differ from the current one")
	}
	// Hashed before the first write, so the transaction begins after both hashes.
	hash, err := s.hasher.Hash(ctx, newPassword)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	db := store.Conn(ctx, s.db)
	if err := db.Model(&model.User{}).Where("id = ?", u.ID).
		Updates(map[string]any{"password_hash": hash, "updated_at": now}).Error; err != nil {
		return err
	}
	if err := db.Model(&model.Session{}).
		Where("(user_id = ? OR operator_id = ?) AND id <> ? AND revoked_at IS NULL", u.ID, u.ID, id.SessionID()).
		Updates(map[string]any{"revoked_at": now, "revoked_reason": "password changed"}).Error; err != nil {
		return fmt.Errorf("change password: revoke sessions: %w", err)
	}
	if err := s.revokeUserAPIKeys(ctx, u.ID); err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	return store.Publish(ctx, s.db, store.UserKey(u.ID))
}

// onField moves an input error to another argument name (the policy names it "password").
func onField(err error, field string) error {
	if e, ok := apperr.As(err); ok && e.Code == apperr.BadUserInput {
		c := *e
		c.Field = field
		return &c
	}
	return err
}

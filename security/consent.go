package security

import (
	"context"
	"fmt"

	"behalf/model"
	"behalf/store"
)

// SetConsent stores a user's choice whether staff may log in on their behalf; withdrawing it also ends
// every login-on-behalf session running in the account. Who may make the choice is the login-on-behalf
// policy's to decide (the onbehalf package calls this); security only owns the rows.
func (s *Service) SetConsent(ctx context.Context, u *model.User, allow bool) (*model.User, error) {
	db := store.Conn(ctx, s.db)
	now := s.clock.Now()
	if err := db.Model(&model.User{}).Where("id = ?", u.ID).
		Updates(map[string]any{"allow_login_on_behalf": allow, "updated_at": now}).Error; err != nil {
		return nil, fmt.Errorf("set consent of %s: %w", u.ID, err)
	}
	if !allow {
		if err := db.Model(&model.Session{}).
			Where("user_id = ? AND on_behalf = ? AND revoked_at IS NULL", u.ID, true).
			Updates(map[string]any{"revoked_at": now, "revoked_reason": "consent withdrawn"}).Error; err != nil {
			return nil, fmt.Errorf("end login-on-behalf sessions of %s: %w", u.ID, err)
		}
	}
	if err := store.Publish(ctx, s.db, store.UserKey(u.ID)); err != nil {
		return nil, err
	}
	c := *u
	c.AllowOnBehalf, c.UpdatedAt = &allow, now
	return &c, nil
}

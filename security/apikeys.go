package security

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"behalf/apperr"
	"behalf/model"
	"behalf/store"

	"gorm.io/gorm"
)

// MaxLiveAPIKeys caps the unrevoked, unexpired keys one user may hold, so a leaked session cannot mint
// keys without bound and the list stays reviewable. Beyond it generateApiKey answers CONFLICT.
const MaxLiveAPIKeys = 50

// apiKeyPrefixLen is how much of a secret stays visible as the key's prefix: "bhk_" and 8 characters
// (48 of its 256 random bits), enough to recognise a key in a list, far too little to use it.
const apiKeyPrefixLen = len(APIKeyPrefix) + 8

// GeneratedAPIKey is a new key with its secret, which exists only in this value: the database keeps a
// SHA-256 hash of it.
type GeneratedAPIKey struct {
	Key    *model.APIKey
	Secret string
}

// GenerateAPIKey creates an API key acting with the caller's permissions. Keys are for the account
// holder's own integrations: not from inside a login-on-behalf session, not from another key.
func (s *Service) GenerateAPIKey(ctx context.Context, name string, expiresAt *time.Time) (*GeneratedAPIKey, error) {
	id, err := s.requireOwnSession(ctx)
	if err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	if err := validateKeyName(name); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	if expiresAt != nil {
		if !expiresAt.After(now) {
			return nil, apperr.Input("expiresAt", "expiresAt must be in the future")
		}
		t := expiresAt.UTC()
		expiresAt = &t
	}
	db := store.Conn(ctx, s.db)
	// Serialize key creation per user (a no-op write takes the row lock), so concurrent requests cannot
	// pass the cap together.
	if err := db.Model(&model.User{}).Where("id = ?", id.User.ID).UpdateColumn("updated_at", gorm.Expr("updated_at")).Error; err != nil {
		return nil, err
	}
	var live int64
	if err := db.Model(&model.APIKey{}).
		Where("user_id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)", id.User.ID, now).
		Count(&live).Error; err != nil {
		return nil, err
	}
	if live >= MaxLiveAPIKeys {
		return nil, apperr.Newf(apperr.Conflict, "at most %d API keys may be live at once: revoke one first", MaxLiveAPIKeys)
	}
	secret := NewToken(APIKeyPrefix)
	key := &model.APIKey{
		ID: model.NewID(), UserID: id.User.ID, Name: name, Prefix: secret[:apiKeyPrefixLen],
		SecretHash: HashToken(secret), CreatedAt: now, ExpiresAt: expiresAt,
	}
	if err := db.Create(key).Error; err != nil {
		return nil, err
	}
	return &GeneratedAPIKey{Key: key, Secret: secret}, nil
}

func validateKeyName(name string) error {
	_, err := apperr.Text("name", name, 1, 100)
	return err
}

// APIKeys lists the caller's unrevoked keys (expired ones included, so their owner sees why they stopped
// working), newest first. Secrets are never stored, so they cannot be listed.
func (s *Service) APIKeys(ctx context.Context) ([]*model.APIKey, error) {
	id, err := s.requireOwnSession(ctx)
	if err != nil {
		return nil, err
	}
	var keys []*model.APIKey
	err = store.Conn(ctx, s.db).Where("user_id = ? AND revoked_at IS NULL", id.User.ID).Order("id DESC").Find(&keys).Error
	return keys, err
}

// RevokeAPIKey revokes one of the caller's keys; it stops working on the next request. Another user's
// key is NOT_FOUND. It reports false when the key was already revoked.
func (s *Service) RevokeAPIKey(ctx context.Context, keyID string) (bool, error) {
	id, err := s.requireOwnSession(ctx)
	if err != nil {
		return false, err
	}
	db := store.Conn(ctx, s.db)
	var key model.APIKey
	err = db.First(&key, "id = ? AND user_id = ?", keyID, id.User.ID).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return false, apperr.ErrNotFound
	}
	if err != nil {
		return false, err
	}
	if key.RevokedAt != nil {
		return false, nil
	}
	res := db.Model(&model.APIKey{}).Where("id = ? AND revoked_at IS NULL", key.ID).Update("revoked_at", s.clock.Now())
	if res.Error != nil {
		return false, fmt.Errorf("revoke API key %s: %w", key.ID, res.Error)
	}
	return res.RowsAffected > 0, store.Publish(ctx, s.db, store.APIKeyKey(key.ID))
}

// revokeUserAPIKeys revokes every key of a user (their password changed or they were locked: a key
// made by whoever held the account must not outlive that). The caller publishes the user's change.
func (s *Service) revokeUserAPIKeys(ctx context.Context, userID string) error {
	err := store.Conn(ctx, s.db).Model(&model.APIKey{}).Where("user_id = ? AND revoked_at IS NULL", userID).
		Update("revoked_at", s.clock.Now()).Error
	if err != nil {
		return fmt.Errorf("revoke API keys of %s: %w", userID, err)
	}
	return nil
}

// requireOwnSession returns the identity of a user acting through their own ordinary session. Managing
// keys is refused with an API key and inside a login-on-behalf session; the schema says so with
// @denyApiKey and @denyOnBehalf, and the domain keeps the rule for every other caller.
func (s *Service) requireOwnSession(ctx context.Context) (*Identity, error) {
	id, err := RequireUser(ctx)
	if err != nil {
		return nil, err
	}
	if id.APIKey != nil || id.OnBehalf() {
		return nil, apperr.ErrForbidden
	}
	return id, nil
}

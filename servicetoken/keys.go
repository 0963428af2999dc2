package servicetoken

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"behalf/model"
	"behalf/store"

	"github.com/go-jose/go-jose/v4"
	"gorm.io/gorm"
)

// Algorithm is the JWS algorithm of every service token: EdDSA over Ed25519.
const Algorithm = "EdDSA"

// MaxTTL is the longest a service token may live; a retired key stays published this long after it
// signed its last token, so every token it signed still verifies until it expires.
const MaxTTL = 5 * time.Minute

// Key is one signing key, stored in service_token_keys so every replica signs with and publishes the
// same keys.
type Key struct {
	ID             string `gorm:"primaryKey"`
	Algorithm      string
	PublicKey      string // base64url Ed25519 public key
	PrivateKey     string // "gcm:" sealed seed or "plain:" seed, base64url; never leaves the server
	CreatedAt      time.Time
	SignsUntil     time.Time
	PublishedUntil time.Time
}

// TableName maps Key to its table.
func (Key) TableName() string { return "service_token_keys" }

// currentKey returns the newest key that may sign at now, creating one when none may (first start or
// the last key's signing period ended). Two replicas racing here may each create a key; both are
// published, so tokens of either verify.
func (s *Service) currentKey(ctx context.Context, now time.Time) (*Key, error) {
	var k Key
	err := s.db.WithContext(ctx).Where("signs_until > ? AND created_at <= ?", now, now).
		Order("created_at DESC, id DESC").First(&k).Error
	if err == nil {
		return &k, nil
	}
	if !errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("load service token key: %w", err)
	}
	return s.newKey(ctx, s.db.WithContext(ctx), now)
}

// newKey generates and stores a key that signs from now for one rotation period.
func (s *Service) newKey(ctx context.Context, db *gorm.DB, now time.Time) (*Key, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate service token key: %w", err)
	}
	k := &Key{
		ID: model.NewID(), Algorithm: Algorithm, PublicKey: base64.RawURLEncoding.EncodeToString(pub),
		CreatedAt: now, SignsUntil: now.Add(s.opt.Rotation), PublishedUntil: now.Add(s.opt.Rotation + MaxTTL),
	}
	if k.PrivateKey, err = s.seal(k.ID, priv.Seed()); err != nil {
		return nil, err
	}
	if err := db.Create(k).Error; err != nil {
		return nil, fmt.Errorf("store service token key: %w", err)
	}
	return k, nil
}

// Rotate retires the signing keys now (each stays published until the last token it signed has
// expired) and starts signing with a new key. Keys unpublished for a day are deleted.
func (s *Service) Rotate(ctx context.Context) (*Key, error) {
	now := s.clock.Now()
	var k *Key
	err := store.RunInTx(ctx, s.db, func(ctx context.Context) error {
		db := store.Conn(ctx, s.db)
		if err := db.Model(&Key{}).Where("signs_until > ?", now).
			Updates(map[string]any{"signs_until": now, "published_until": now.Add(MaxTTL)}).Error; err != nil {
			return fmt.Errorf("retire service token keys: %w", err)
		}
		if err := db.Where("published_until < ?", now.Add(-24*time.Hour)).Delete(&Key{}).Error; err != nil {
			return fmt.Errorf("delete old service token keys: %w", err)
		}
		var err error
		k, err = s.newKey(ctx, db, now)
		return err
	})
	return k, err
}

// JWKS returns the public keys a service token may be signed with now: the signing key and every
// retired key whose tokens may still be valid.
func (s *Service) JWKS(ctx context.Context) (*jose.JSONWebKeySet, error) {
	now := s.clock.Now()
	// Publishing makes sure a key exists, so verifiers can fetch the set before the first exchange.
	if _, err := s.currentKey(ctx, now); err != nil {
		return nil, err
	}
	var keys []Key
	if err := s.db.WithContext(ctx).Where("published_until > ? AND created_at <= ?", now, now).
		Order("created_at DESC, id DESC").Find(&keys).Error; err != nil {
		return nil, fmt.Errorf("list service token keys: %w", err)
	}
	set := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, k := range keys {
		pub, err := base64.RawURLEncoding.DecodeString(k.PublicKey)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("service token key %s: bad public key", k.ID)
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: ed25519.PublicKey(pub), KeyID: k.ID, Algorithm: k.Algorithm, Use: "sig"})
	}
	return set, nil
}

// seal protects a private key seed at rest: AES-256-GCM under a key derived from
// BEHALF_SERVICE_KEY_SECRET (the key id as additional data), or the bare seed when no secret is set.
func (s *Service) seal(kid string, seed []byte) (string, error) {
	if s.opt.KeySecret == "" {
		return "plain:" + base64.RawURLEncoding.EncodeToString(seed), nil
	}
	aead, err := s.aead()
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal service token key: %w", err)
	}
	return "gcm:" + base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, seed, []byte(kid))), nil
}

// open returns the private key of k.
func (s *Service) open(k *Key) (ed25519.PrivateKey, error) {
	kind, data, _ := strings.Cut(k.PrivateKey, ":")
	raw, err := base64.RawURLEncoding.DecodeString(data)
	if err != nil {
		return nil, fmt.Errorf("service token key %s: bad private key encoding", k.ID)
	}
	switch kind {
	case "plain":
	case "gcm":
		if s.opt.KeySecret == "" {
			return nil, fmt.Errorf("service token key %s is sealed: set BEHALF_SERVICE_KEY_SECRET", k.ID)
		}
		aead, err := s.aead()
		if err != nil {
			return nil, err
		}
		if len(raw) < aead.NonceSize() {
			return nil, fmt.Errorf("service token key %s: sealed key too short", k.ID)
		}
		raw, err = aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(k.ID))
		if err != nil {
			return nil, fmt.Errorf("service token key %s: cannot unseal (wrong BEHALF_SERVICE_KEY_SECRET?)", k.ID)
		}
	default:
		return nil, fmt.Errorf("service token key %s: unknown private key format", k.ID)
	}
	if len(raw) != ed25519.SeedSize {
		return nil, fmt.Errorf("service token key %s: bad seed length", k.ID)
	}
	return ed25519.NewKeyFromSeed(raw), nil
}

func (s *Service) aead() (cipher.AEAD, error) {
	sum := sha256.Sum256([]byte("behalf service token keys\x00" + s.opt.KeySecret))
	block, err := aes.NewCipher(sum[:])
	if err != nil {
		return nil, fmt.Errorf("service token key cipher: %w", err)
	}
	return cipher.NewGCM(block)
}

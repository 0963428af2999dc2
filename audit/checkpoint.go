package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"behalf/store"

	"github.com/rs/zerolog"
)

// Checkpoint is a signed head of the chain: Ed25519 over CheckpointMessage. Printed by `behalf audit
// checkpoint` and saved outside the database, it proves later that the chain still holds that head.
type Checkpoint struct {
	Seq       int64     `json:"seq"`
	Hash      string    `json:"hash"`
	At        time.Time `json:"at"`
	KeyID     string    `json:"keyId"`
	Signature string    `json:"signature"`
}

// TableName names the checkpoints' table.
func (Checkpoint) TableName() string { return "audit_checkpoints" }

// CheckpointMessage is the canonical head a checkpoint signs (version 1): "behalf.audit.checkpoint.v1"
// then seq, hash and at (Unix microseconds, UTC), encoded as in Canonical.
func CheckpointMessage(seq int64, hash string, at time.Time) []byte {
	b := []byte("behalf.audit.checkpoint.v1")
	b = encInt(b, seq)
	b = encStr(b, hash)
	return encInt(b, at.UTC().UnixMicro())
}

// KeyID identifies a public key: the first 16 hex digits of its SHA-256.
func KeyID(pub ed25519.PublicKey) string {
	h := sha256.Sum256(pub)
	return hex.EncodeToString(h[:8])
}

// keyFileHeader starts a key file; the rest of its first line is the base64 Ed25519 seed.
const keyFileHeader = "behalf-audit-ed25519-seed "

// LoadKey reads an Ed25519 signing key from path. With create, a missing file is generated (mode
// 0600) first.
func LoadKey(path string, create bool) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && create {
		seed := make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			return nil, fmt.Errorf("generate audit key: %w", err)
		}
		line := keyFileHeader + base64.StdEncoding.EncodeToString(seed) + "\n"
		if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
			return nil, fmt.Errorf("write audit key %s: %w", path, err)
		}
		return ed25519.NewKeyFromSeed(seed), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read audit key: %w", err)
	}
	s, ok := strings.CutPrefix(strings.TrimSpace(string(b)), keyFileHeader)
	if !ok {
		return nil, fmt.Errorf("audit key %s: not a behalf audit key file", path)
	}
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("audit key %s: malformed seed", path)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// VerifyCheckpoint checks cp's signature with pub.
func VerifyCheckpoint(cp *Checkpoint, pub ed25519.PublicKey) error {
	if cp.KeyID != KeyID(pub) {
		return fmt.Errorf("checkpoint signed by key %s, not by %s", cp.KeyID, KeyID(pub))
	}
	sig, err := base64.StdEncoding.DecodeString(cp.Signature)
	if err != nil || !ed25519.Verify(pub, CheckpointMessage(cp.Seq, cp.Hash, cp.At), sig) {
		return errors.New("checkpoint signature does not verify")
	}
	return nil
}

// Signing configures checkpoints: the key, and how often the head is signed.
type Signing struct {
	Key      ed25519.PrivateKey // nil: no checkpoints
	EveryN   int64              // sign after every N events (0: only by time)
	Interval time.Duration      // and at least this often while events arrive (0: only by count)
	// Signed, if set, is called after each signing round of RunCheckpoints with the latest
	// checkpoint (for metrics, and for tests to wait on).
	Signed func(*Checkpoint)
}

// CanSign reports whether the service has a signing key.
func (s *Service) CanSign() bool { return s.signing.Key != nil }

// PublicKey returns the signing key's public half (nil without a key).
func (s *Service) PublicKey() ed25519.PublicKey {
	if s.signing.Key == nil {
		return nil
	}
	return s.signing.Key.Public().(ed25519.PublicKey)
}

// SignHead signs the chain's current head and stores the checkpoint, unless the latest checkpoint is
// already at that head (then it returns that one). It returns nil for an empty chain.
func (s *Service) SignHead(ctx context.Context) (*Checkpoint, error) {
	if s.signing.Key == nil {
		return nil, errors.New("sign audit checkpoint: no signing key configured")
	}
	head, err := s.Head(ctx)
	if err != nil {
		return nil, err
	}
	if head.Seq == 0 {
		return nil, nil
	}
	last, err := s.LatestCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	if last != nil && last.Seq >= head.Seq {
		return last, nil
	}
	cp := &Checkpoint{Seq: head.Seq, Hash: head.Hash, At: chainTime(s.clock.Now()), KeyID: KeyID(s.PublicKey())}
	cp.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(s.signing.Key, CheckpointMessage(cp.Seq, cp.Hash, cp.At)))
	if err := s.db.WithContext(ctx).Create(cp).Error; err != nil {
		if store.IsUniqueViolation(err) { // signed concurrently by another replica
			return s.LatestCheckpoint(ctx)
		}
		return nil, fmt.Errorf("store audit checkpoint %d: %w", cp.Seq, err)
	}
	return cp, nil
}

// LatestCheckpoint returns the newest stored checkpoint, or nil.
func (s *Service) LatestCheckpoint(ctx context.Context) (*Checkpoint, error) {
	var cps []Checkpoint
	if err := s.db.WithContext(ctx).Order("seq DESC").Limit(1).Find(&cps).Error; err != nil {
		return nil, fmt.Errorf("read audit checkpoint: %w", err)
	}
	if len(cps) == 0 {
		return nil, nil
	}
	return &cps[0], nil
}

// RunCheckpoints signs the head on every tick (the server ticks every Signing.Interval) and whenever
// Signing.EveryN events were appended, until ctx ends; a head already signed is not signed again.
// (An event appended inside a mutation wakes it before that mutation commits; the next round then
// signs it.) Without a key it returns at once.
func (s *Service) RunCheckpoints(ctx context.Context, tick <-chan time.Time) {
	if s.signing.Key == nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		case <-s.wake:
		}
		cp, err := s.SignHead(ctx)
		if err != nil && ctx.Err() == nil {
			zerolog.Ctx(ctx).Error().Err(err).Msg("audit checkpoint failed")
		}
		if err == nil && s.signing.Signed != nil {
			s.signing.Signed(cp)
		}
	}
}

// CheckpointTicker returns the ticks RunCheckpoints needs for Signing.Interval (nil: none) and its
// stop function.
func (s *Service) CheckpointTicker() (<-chan time.Time, func()) {
	if s.signing.Interval <= 0 {
		return nil, func() {}
	}
	t := time.NewTicker(s.signing.Interval)
	return t.C, t.Stop
}

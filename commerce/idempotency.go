package commerce

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	"behalf/apperr"
	"behalf/model"
	"behalf/store"

	"gorm.io/gorm/clause"
)

// Idempotency scopes: a key is remembered per customer and operation.
const (
	scopePlaceOrder = "order.place"
	scopePayOrder   = "order.pay"
)

// requestHash fingerprints a request's input (the parts are already free of secrets or hashed).
func requestHash(scope string, parts ...string) string {
	h := sha256.New()
	h.Write([]byte(scope))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// once runs do at most once per (customer, scope, key) within the key's lifetime and returns the id of
// what it created; a repeat with the same input returns the first result (replay = true), with other
// input it is CONFLICT. It must run inside a transaction (the mutation's, or for payOrder the intent's
// own short one): the key row is inserted first
// with ON CONFLICT DO NOTHING, so a concurrent duplicate waits on the unique index until the first
// transaction ends and then reads its committed result (no aborted transaction on PostgreSQL). If do
// fails, the transaction rolls back and takes the key with it: failed requests are not remembered.
func (s *Service) once(ctx context.Context, customerID, scope, key, hash string, do func(ctx context.Context) (string, error)) (resultID string, replay bool, err error) {
	db := store.Conn(ctx, s.db)
	now := s.clock.Now()
	row := &model.IdempotencyKey{ID: model.NewID(), CustomerID: customerID, Scope: scope, Key: key, RequestHash: hash, CreatedAt: now}
	res := db.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "customer_id"}, {Name: "scope"}, {Name: "idem_key"}},
		DoNothing: true,
	}).Create(row)
	if res.Error != nil {
		return "", false, res.Error
	}
	if res.RowsAffected == 0 {
		var prev model.IdempotencyKey
		err := db.Clauses(clause.Locking{Strength: "UPDATE"}).
			Where("customer_id = ? AND scope = ? AND idem_key = ?", customerID, scope, key).Take(&prev).Error
		if err != nil {
			return "", false, err
		}
		if now.Sub(prev.CreatedAt) < s.opt.IdempotencyTTL {
			if prev.RequestHash != hash {
				return "", false, apperr.New(apperr.Conflict, "this idempotency key was used for a different request").WithReason("IDEMPOTENCY_KEY_REUSED")
			}
			if prev.ResultID == "" {
				return "", false, apperr.New(apperr.Conflict, "a request with this idempotency key is in progress").WithReason("IDEMPOTENCY_IN_PROGRESS")
			}
			return prev.ResultID, true, nil
		}
		// Expired: the key starts a new life for this request.
		row.ID = prev.ID
		if err := db.Model(&model.IdempotencyKey{ID: prev.ID}).Updates(map[string]any{
			"request_hash": hash, "result_id": "", "created_at": now,
		}).Error; err != nil {
			return "", false, err
		}
	}
	id, err := do(ctx)
	if err != nil {
		return "", false, err
	}
	if err := db.Model(&model.IdempotencyKey{ID: row.ID}).Update("result_id", id).Error; err != nil {
		return "", false, err
	}
	return id, false, nil
}

// idempotent runs do once per key in a transaction (joining the mutation's) and loads what it
// created, or what the first request with this key created.
func idempotent[T any](ctx context.Context, s *Service, customerID, scope, key, hash string,
	do func(ctx context.Context) (string, error), load func(ctx context.Context, id string) (T, error)) (T, error) {
	var out T
	err := store.RunInTx(ctx, s.db, func(ctx context.Context) error {
		id, _, err := s.once(ctx, customerID, scope, key, hash, do)
		if err != nil {
			return err
		}
		out, err = load(ctx, id)
		return err
	})
	return out, err
}

// PurgeIdempotencyKeys deletes keys older than the configured lifetime and returns how many; run it
// now and then (the keys are only needed while a client may retry).
func (s *Service) PurgeIdempotencyKeys(ctx context.Context) (int64, error) {
	res := store.Conn(ctx, s.db).Where("created_at < ?", s.clock.Now().Add(-s.opt.IdempotencyTTL)).Delete(&model.IdempotencyKey{})
	return res.RowsAffected, res.Error
}

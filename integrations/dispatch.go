package integrations

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"behalf/model"
	"behalf/store"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// claimBatch is how many targets one dispatch round serves at once (one delivery per target, so the
// order per target holds).
const claimBatch = 8

// Run delivers due deliveries until ctx ends: at once when woken (Wake, after a commit that wrote
// some), else every PollInterval (events written by other replicas, retries coming due). Several
// processes may run it on one PostgreSQL database: each delivery is claimed by one of them.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-t.C:
		}
		for ctx.Err() == nil {
			n, err := s.DeliverDue(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Error().Err(err).Msg("outbox dispatch failed")
				}
				break
			}
			if n == 0 {
				break
			}
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(s.opt.PollInterval)
	}
}

// DeliverDue claims the deliveries that are due (at most one per target, the oldest open one), makes
// one attempt at each, records the outcome, and returns how many it attempted.
func (s *Service) DeliverDue(ctx context.Context) (int, error) {
	claimed, err := s.claim(ctx)
	if err != nil || len(claimed) == 0 {
		return 0, err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(claimed))
	for i, d := range claimed {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.attempt(ctx, d)
		}()
	}
	wg.Wait()
	return len(claimed), errors.Join(errs...)
}

// claim reserves due deliveries for this dispatcher with a lease. On PostgreSQL the rows are locked
// FOR UPDATE SKIP LOCKED, so concurrent replicas claim disjoint sets; a delivery whose predecessor for
// the same target is still open is not due, which keeps each target's events in order.
func (s *Service) claim(ctx context.Context) ([]*model.WebhookDelivery, error) {
	now := s.clock.Now()
	var out []*model.WebhookDelivery
	err := store.RunInTx(ctx, s.db, func(ctx context.Context) error {
		db := store.Conn(ctx, s.db)
		q := db.Where("status IN ? AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)",
			[]string{StatusPending, StatusFailed}, now, now).
			Where(`NOT EXISTS (SELECT 1 FROM outbox_deliveries p WHERE p.target = outbox_deliveries.target
				AND p.status IN ? AND p.id < outbox_deliveries.id)`, []string{StatusPending, StatusFailed}).
			Where(`endpoint_id IS NULL OR EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.id = outbox_deliveries.endpoint_id
				AND e.active = ? AND e.deleted_at IS NULL)`, true).
			Order("id").Limit(claimBatch)
		if store.Dialect(s.db) == store.Postgres {
			q = q.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"})
		}
		if err := q.Find(&out).Error; err != nil {
			return fmt.Errorf("claim deliveries: %w", err)
		}
		if len(out) == 0 {
			return nil
		}
		ids := make([]string, len(out))
		for i, d := range out {
			ids[i] = d.ID
		}
		lease := now.Add(s.opt.Lease)
		err := db.Model(&model.WebhookDelivery{}).Where("id IN ?", ids).
			Updates(map[string]any{"lease_until": lease, "attempts": gorm.Expr("attempts + 1"), "last_attempt_at": now, "updated_at": now}).Error
		if err != nil {
			return fmt.Errorf("lease deliveries: %w", err)
		}
		for _, d := range out {
			d.Attempts++
			d.LeaseUntil, d.LastAttemptAt = &lease, &now
		}
		return nil
	})
	return out, err
}

// attempt makes one delivery attempt and records its outcome: DELIVERED, FAILED with the next try
// after an exponential backoff with jitter, or DEAD after the last allowed attempt.
func (s *Service) attempt(ctx context.Context, d *model.WebhookDelivery) error {
	actx, cancel := context.WithTimeout(ctx, s.opt.Timeout)
	status, err := s.send(actx, d)
	cancel()
	if ctx.Err() != nil {
		return nil // shutting down: the lease runs out and another round retries
	}
	now := s.clock.Now()
	upd := map[string]any{"lease_until": nil, "updated_at": now, "last_error": ""}
	if status != 0 {
		upd["last_status"] = status
	}
	log := s.log.With().Str("delivery_id", d.ID).Str("event_id", d.EventID).Str("channel", d.Channel).Int("attempt", d.Attempts).Logger()
	switch {
	case err == nil:
		upd["status"], upd["delivered_at"] = StatusDelivered, now
		log.Info().Int("status", status).Msg("outbox delivered")
	case d.Attempts >= s.opt.MaxAttempts:
		upd["status"], upd["last_error"] = StatusDead, truncate(err.Error(), 500)
		log.Warn().Err(err).Msg("outbox delivery dead after its last attempt")
	default:
		next := now.Add(s.backoff(d.Attempts))
		upd["status"], upd["last_error"], upd["next_attempt_at"] = StatusFailed, truncate(err.Error(), 500), next
		log.Info().Err(err).Time("next_attempt_at", next).Msg("outbox delivery failed; will retry")
	}
	res := s.db.WithContext(context.WithoutCancel(ctx)).Model(&model.WebhookDelivery{}).
		Where("id = ? AND status IN ?", d.ID, []string{StatusPending, StatusFailed}).Updates(upd)
	if res.Error != nil {
		return fmt.Errorf("record delivery %s: %w", d.ID, res.Error)
	}
	return nil
}

// backoff is the delay after the n-th failed attempt: Backoff·2^(n-1), at most MaxBackoff, of which a
// random half is taken off ("equal jitter") so that retries of many deliveries spread out.
func (s *Service) backoff(n int) time.Duration {
	d := s.opt.Backoff
	for i := 1; i < n && d < s.opt.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.opt.MaxBackoff)
	j := rand.Float64
	if s.opt.Jitter != nil {
		j = s.opt.Jitter
	}
	return d/2 + time.Duration(j()*float64(d/2))
}

// send delivers d once: a signed POST to its endpoint or an e-mail. It returns the HTTP status.
func (s *Service) send(ctx context.Context, d *model.WebhookDelivery) (int, error) {
	var ev model.OutboxEvent
	if err := s.db.WithContext(ctx).Where("id = ?", d.EventID).Take(&ev).Error; err != nil {
		return 0, fmt.Errorf("load event %s: %w", d.EventID, err)
	}
	if d.Channel == ChannelEmail {
		if s.mailer == nil {
			return 0, errors.New("e-mail is not configured (BEHALF_SMTP_URL)")
		}
		return 0, s.mailer.send(ctx, d.Recipient, d.Subject, d.Body, ev.ID)
	}
	if d.EndpointID == nil {
		return 0, errors.New("delivery has no endpoint")
	}
	ep, err := s.endpoint(ctx, *d.EndpointID)
	if err != nil {
		return 0, fmt.Errorf("load endpoint: %w", err)
	}
	now := s.clock.Now()
	sigs := []string{}
	for _, secret := range s.secrets(ep, now) {
		sig, err := Sign(secret, ev.ID, now, []byte(ev.Payload))
		if err != nil {
			return 0, err
		}
		sigs = append(sigs, sig)
	}
	return s.client.post(ctx, ep.URL, ev.ID, now, []byte(ev.Payload), sigs)
}

// secrets are the endpoint's signing secrets at now: the current one, and the previous one during
// the overlap after a rotation.
func (s *Service) secrets(ep *model.WebhookEndpoint, now time.Time) []string {
	out := []string{ep.Secret}
	if ep.PreviousSecret != "" && ep.PreviousValidUntil != nil && now.Before(*ep.PreviousValidUntil) {
		out = append(out, ep.PreviousSecret)
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Stats are the outbox's health figures (for metrics): open deliveries, the age of the oldest one
// due, and dead letters.
type Stats struct {
	Open   int64
	Dead   int64
	Oldest time.Duration
}

// Stats reads the outbox's health figures.
func (s *Service) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	db := s.db.WithContext(ctx).Model(&model.WebhookDelivery{})
	if err := db.Session(&gorm.Session{}).Where("status IN ?", []string{StatusPending, StatusFailed}).Count(&st.Open).Error; err != nil {
		return st, fmt.Errorf("count open deliveries: %w", err)
	}
	if err := db.Session(&gorm.Session{}).Where("status = ?", StatusDead).Count(&st.Dead).Error; err != nil {
		return st, fmt.Errorf("count dead deliveries: %w", err)
	}
	var oldest []model.WebhookDelivery
	if err := db.Session(&gorm.Session{}).Where("status IN ?", []string{StatusPending, StatusFailed}).Order("created_at").Limit(1).Find(&oldest).Error; err != nil {
		return st, fmt.Errorf("oldest open delivery: %w", err)
	}
	if len(oldest) == 1 {
		st.Oldest = max(0, s.clock.Now().Sub(oldest[0].CreatedAt))
	}
	return st, nil
}

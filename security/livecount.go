package security

import (
	"context"
	"fmt"
)

// LiveSessionCounts counts the sessions alive now (not revoked, not expired, used within their idle
// timeout): ordinary ones, and login-on-behalf ones whose operator's own session is alive too. It is
// one query for the metrics scrape; per-request checks (operator locked, policy) are not repeated.
func (s *Service) LiveSessionCounts(ctx context.Context) (ordinary, onBehalf int64, err error) {
	now := s.clock.Now()
	var rows []struct {
		OnBehalf bool
		N        int64
	}
	err = s.db.WithContext(ctx).Raw(`
SELECT s.on_behalf AS on_behalf, count(*) AS n FROM sessions s
WHERE s.revoked_at IS NULL AND s.expires_at > ?
  AND ((s.on_behalf AND s.last_seen_at > ?) OR (NOT s.on_behalf AND s.last_seen_at > ?))
  AND (s.parent_session_id IS NULL OR EXISTS (SELECT 1 FROM sessions p
       WHERE p.id = s.parent_session_id AND p.revoked_at IS NULL AND p.expires_at > ?))
GROUP BY s.on_behalf`, now, now.Add(-s.opt.OnBehalfIdle), now.Add(-s.opt.SessionIdle), now).Scan(&rows).Error
	if err != nil {
		return 0, 0, fmt.Errorf("count live sessions: %w", err)
	}
	for _, r := range rows {
		if r.OnBehalf {
			onBehalf = r.N
		} else {
			ordinary = r.N
		}
	}
	return ordinary, onBehalf, nil
}

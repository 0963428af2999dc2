package onbehalf_test

import (
	"testing"

	"behalf/internal/dbtest"

	"gorm.io/gorm"
)

// TestMySessionsHidesSessionsThePolicyWouldRefuse: once the operator loses the permission, the scoped
// session's next request is refused, so the customer's mySessions no longer lists it as live.
func TestMySessionsHidesSessionsThePolicyWouldRefuse(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		w := newWorld(t, db)
		sc := w.actFor(w.supportTok, w.support.Login, w.customer)
		count := func() int {
			var out struct{ MySessions []struct{ OnBehalf bool } }
			w.env.MustDo(w.customerTok, `{ mySessions { onBehalf } }`, nil, &out)
			n := 0
			for _, s := range out.MySessions {
				if s.OnBehalf {
					n++
				}
			}
			return n
		}
		if count() != 1 {
			t.Fatal("live scoped session not listed")
		}
		w.update(map[string]any{"id": w.support.ID, "roles": []string{"customer"}})
		if w.alive(sc.Token) {
			t.Fatal("scoped session survived the operator losing the permission")
		}
		if n := count(); n != 0 {
			t.Fatalf("mySessions still lists %d dead scoped session(s)", n)
		}
	})
}

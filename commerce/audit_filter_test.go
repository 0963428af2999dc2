package commerce_test

import (
	"testing"
	"time"

	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/security"

	"gorm.io/gorm"
)

// TestAuditEventFilters: auditEvents filters by actor, subject, action, on-behalf flag and time
// range (from inclusive, to exclusive), newest first, paginated, for audit:read only.
func TestAuditEventFilters(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		_, admin := env.UserWithToken("alice.admin", security.RoleAdministrator)
		seedCatalog(t, env, admin, [3]any{"A-1", "1.00", 10})
		carla, carlaTok := env.UserWithToken("carla.customer", security.RoleCustomer)
		dan, danTok := env.UserWithToken("dan.customer", security.RoleCustomer)
		sam, samTok := env.UserWithToken("sam.support", security.RoleSupport)
		obTok, _ := onBehalfToken(t, env, carla, sam, samTok)
		add := `mutation($q:Int!){ addToCart(sku:"A-1", quantity:$q){ id } }`
		one := map[string]any{"q": 1}

		env.MustDo(carlaTok, add, one, nil) // Start
		env.Clock.Advance(10 * time.Minute)
		env.MustDo(obTok, add, one, nil) // Start+10m, sam for carla (within the session's idle limit)
		env.Clock.Advance(10 * time.Minute)
		env.MustDo(danTok, add, one, nil)                                                     // Start+20m
		if r := env.Do(carlaTok, add, map[string]any{"q": 0}); r.Code() != "BAD_USER_INPUT" { // Start+20m, failure
			t.Fatalf("bad quantity: %s", r.Raw)
		}

		at := func(d time.Duration) string { return apptest.Start.Add(d).Format(time.RFC3339) }
		tests := []struct {
			name   string
			filter map[string]any
			want   []string // actor login/outcome, newest first
		}{
			{"actor", map[string]any{"actorId": carla.ID, "action": "cart.add"}, []string{"carla.customer/FAILURE", "carla.customer/SUCCESS"}},
			{"subject", map[string]any{"subjectId": carla.ID, "action": "cart.add"}, []string{"carla.customer/FAILURE", "sam.support/SUCCESS", "carla.customer/SUCCESS"}},
			{"staff actor", map[string]any{"actorId": sam.ID, "action": "cart.add"}, []string{"sam.support/SUCCESS"}},
			{"on behalf", map[string]any{"onBehalf": true}, []string{"sam.support/SUCCESS"}},
			{"not on behalf", map[string]any{"onBehalf": false, "action": "cart.add"}, []string{"carla.customer/FAILURE", "dan.customer/SUCCESS", "carla.customer/SUCCESS"}},
			{"range", map[string]any{"action": "cart.add", "from": at(5 * time.Minute), "to": at(15 * time.Minute)}, []string{"sam.support/SUCCESS"}},
			{"from inclusive", map[string]any{"action": "cart.add", "from": at(20 * time.Minute)}, []string{"carla.customer/FAILURE", "dan.customer/SUCCESS"}},
			{"to exclusive", map[string]any{"action": "cart.add", "to": at(0)}, nil},
			{"subject and on behalf", map[string]any{"subjectId": dan.ID, "onBehalf": true}, nil},
			{"unknown action", map[string]any{"action": "cart.nothing"}, nil},
		}
		for _, tt := range tests {
			var got []string
			for _, ev := range auditEvents(t, env, admin, tt.filter, 50) {
				got = append(got, ev.ActorLogin+"/"+ev.Outcome)
			}
			if len(got) != len(tt.want) || (len(got) > 0 && join(got) != join(tt.want)) {
				t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
			}
		}

		// Pagination over the four cart.add events.
		var page struct {
			AuditEvents struct {
				TotalCount int
				PageInfo   struct {
					HasNextPage bool
					EndCursor   string
				}
				Edges []struct{ Node struct{ ID string } }
			}
		}
		q := `query($after:String){ auditEvents(filter:{action:"cart.add"}, first:3, after:$after){ totalCount pageInfo{ hasNextPage endCursor } edges{ node{ id } } } }`
		env.MustDo(admin, q, nil, &page)
		if page.AuditEvents.TotalCount != 4 || len(page.AuditEvents.Edges) != 3 || !page.AuditEvents.PageInfo.HasNextPage {
			t.Errorf("first page: %+v", page.AuditEvents)
		}
		firstIDs := page.AuditEvents.Edges
		env.MustDo(admin, q, map[string]any{"after": page.AuditEvents.PageInfo.EndCursor}, &page)
		if len(page.AuditEvents.Edges) != 1 || page.AuditEvents.PageInfo.HasNextPage || page.AuditEvents.Edges[0].Node.ID >= firstIDs[2].Node.ID {
			t.Errorf("second page: %+v", page.AuditEvents)
		}

		// audit:read only; a staff member acting on behalf has only the customer's permissions.
		for name, tok := range map[string]string{"customer": carlaTok, "on behalf": obTok} {
			if r := env.Do(tok, `{ auditEvents { totalCount } }`, nil); r.Code() != "FORBIDDEN" {
				t.Errorf("%s: %s", name, r.Raw)
			}
		}
		if r := env.Do(samTok, `{ auditEvents { totalCount } }`, nil); r.Code() != "" {
			t.Errorf("support: %s", r.Raw)
		}
	})
}

func join(xs []string) string {
	s := ""
	for _, x := range xs {
		s += x + ";"
	}
	return s
}

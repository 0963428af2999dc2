package demo_test

import (
	"context"
	"testing"

	"behalf/demo"
	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/model"
	"behalf/security"

	"gorm.io/gorm"
)

func TestDemoDataLoadsOnceAndLogsIn(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		ctx := context.Background()
		logins, err := demo.Load(ctx, db, env.App.Security, env.App.Directory, env.App.Commerce)
		if err != nil {
			t.Fatal(err)
		}
		var orgs, contacts int64
		dbtest.Must(t, db.Model(&model.Organization{}).Count(&orgs))
		dbtest.Must(t, db.Model(&model.Contact{}).Count(&contacts))
		roles := map[string]int{}
		for _, l := range logins {
			roles[l.Role]++
		}
		if orgs != 2 || contacts != 12 || roles[security.RoleSupport] != 1 || roles[security.RoleAdministrator] != 1 || roles[security.RoleCustomer] < 5 {
			t.Fatalf("orgs=%d contacts=%d roles=%v", orgs, contacts, roles)
		}
		for _, l := range logins {
			if l.Role == security.RoleSupport {
				env.Login(l.Login, l.Password) // the printed password works
			}
		}
		again, err := demo.Load(ctx, db, env.App.Security, env.App.Directory, env.App.Commerce)
		if err != nil || len(again) != 0 {
			t.Fatalf("second load: %v %v", again, err)
		}
		dbtest.Must(t, db.Model(&model.Organization{}).Count(&orgs))
		if orgs != 2 {
			t.Fatalf("second load duplicated data: %d organizations", orgs)
		}
	})
}

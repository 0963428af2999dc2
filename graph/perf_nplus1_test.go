package graph_test

import (
	"testing"

	"behalf/internal/apptest"
	"behalf/internal/dbtest"

	"gorm.io/gorm"
)

// TestMeWithContactWithoutOrganization: a user whose directory contact belongs to no organization
// reads `me` (a NULL organization_id once made every request of such a user fail on PostgreSQL).
func TestMeWithContactWithoutOrganization(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		c := env.CreateContact("Nora", "Noorg", nil)
		env.CreateUser("nora", []string{"customer"}, &c.ID)
		token := env.Login("nora", apptest.DefaultPassword)
		var out struct {
			Me struct {
				Login   string
				Contact struct {
					FullName     string
					Organization *struct{ ID string }
				}
			}
		}
		env.MustDo(token, `{ me { login contact { fullName organization { id } } } }`, nil, &out)
		if out.Me.Login != "nora" || out.Me.Contact.FullName != "Nora Noorg" || out.Me.Contact.Organization != nil {
			t.Fatalf("me = %+v", out.Me)
		}
	})
}

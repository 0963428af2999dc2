// Package demo fills an empty database with a small, realistic directory (two organizations, a dozen
// contacts, customer, support and administrator accounts) so a newcomer can try login on behalf at once.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"

	"behalf/apperr"
	"behalf/commerce"
	"behalf/directory"
	"behalf/model"
	"behalf/security"
	"behalf/store"

	"gorm.io/gorm"
)

// Login is a demo account and its generated password.
type Login struct {
	Login, Password, Role string
}

type person struct{ first, last, org string }

var people = []person{
	{"Anna", "Schmidt", "Acme Industrial Supply"}, {"Ben", "Okafor", "Acme Industrial Supply"},
	{"Chloé", "Martin", "Acme Industrial Supply"}, {"David", "Kowalski", "Acme Industrial Supply"},
	{"Elena", "Rossi", "Acme Industrial Supply"}, {"Farid", "Haddad", "Acme Industrial Supply"},
	{"Grace", "Lee", "Northwind Laboratories"}, {"Hiro", "Tanaka", "Northwind Laboratories"},
	{"Ines", "García", "Northwind Laboratories"}, {"Jonas", "Berg", "Northwind Laboratories"},
	{"Karin", "Novak", "Northwind Laboratories"}, {"Liam", "O'Brien", "Northwind Laboratories"},
}

func password() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Load creates the demo data unless the directory already has organizations; it returns the logins created
// (empty when it did nothing), so the caller can print them once.
// Each domain writes its own tables: directory the organizations and contacts, security the users,
// commerce the catalog.
func Load(ctx context.Context, db *gorm.DB, sec *security.Service, dir *directory.Service, com *commerce.Service) ([]Login, error) {
	var out []Login
	err := store.RunInTx(ctx, db, func(ctx context.Context) error {
		// Replicas starting together on one empty database: the first loads, the others wait for its
		// commit under the lock and then find the organizations.
		if err := store.XactLock(ctx, db, store.LockDemoData); err != nil {
			return err
		}
		var n int64
		if err := store.Conn(ctx, db).Model(&model.Organization{}).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		orgs := map[string]*model.Organization{}
		for _, name := range []string{"Acme Industrial Supply", "Northwind Laboratories"} {
			o, err := dir.CreateOrganizationUnchecked(ctx, name)
			if err != nil {
				return fmt.Errorf("demo organization %s: %w", name, err)
			}
			orgs[name] = o
		}
		add := func(login, email, role string, contactID *string) error {
			pw := password()
			_, err := sec.CreateUserUnchecked(ctx, security.CreateUserInput{
				Login: login, Email: email, Password: pw, Roles: []string{role}, ContactID: contactID,
			})
			if apperr.CodeOf(err) == apperr.Conflict {
				return nil // an account of that name was created before (e.g. with "behalf user create")
			}
			if err != nil {
				return fmt.Errorf("demo user %s: %w", login, err)
			}
			out = append(out, Login{Login: login, Password: pw, Role: role})
			return nil
		}
		for i, p := range people {
			domain := strings.ToLower(strings.Fields(p.org)[0]) + ".example"
			email := strings.ToLower(asciiFold(p.first)+"."+asciiFold(strings.ReplaceAll(p.last, "'", ""))) + "@" + domain
			phone := fmt.Sprintf("+1 555 01%02d", i)
			c, err := dir.CreateContactUnchecked(ctx, directory.CreateContactInput{
				FirstName: p.first, LastName: p.last, Email: email, Phone: &phone, OrganizationID: &orgs[p.org].ID,
			})
			if err != nil {
				return fmt.Errorf("demo contact %s %s: %w", p.first, p.last, err)
			}
			role := security.RoleCustomer
			if i == 0 || i == 6 {
				role = security.RoleOrganizationMaintain
			}
			if i%3 != 2 { // most contacts have an account; some are directory-only
				if err := add(strings.Split(email, "@")[0], email, role, &c.ID); err != nil {
					return err
				}
			}
		}
		if err := add("support", "support@behalf.example", security.RoleSupport, nil); err != nil {
			return err
		}
		if err := add("admin", "admin@behalf.example", security.RoleAdministrator, nil); err != nil {
			return err
		}
		if err := com.LoadDemoCatalog(ctx); err != nil {
			return fmt.Errorf("demo catalog: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func asciiFold(s string) string {
	r := strings.NewReplacer("é", "e", "í", "i", "á", "a", "ó", "o", "ú", "u", "ñ", "n", "ö", "o", "ü", "u")
	return r.Replace(s)
}

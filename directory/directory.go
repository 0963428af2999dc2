// Package directory owns organizations and contacts: the customer directory staff search to find whom
// to help.
package directory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"behalf/apperr"
	"behalf/internal/clock"
	"behalf/model"
	"behalf/security"
	"behalf/store"

	"gorm.io/gorm"
)

// Service is the directory domain.
type Service struct {
	db    *gorm.DB
	clock clock.Clock
}

// New returns the directory service.
func New(db *gorm.DB, c clock.Clock) *Service { return &Service{db: db, clock: c} }

// readScope returns the organization the caller is limited to ("" = all), or an error when the caller
// may not read the directory at all. Staff with customers:read see everything; an organization
// maintainer sees only their own organization's members.
func readScope(ctx context.Context) (string, error) {
	id, err := security.RequireUser(ctx)
	if err != nil {
		return "", err
	}
	if id.Has(security.PermCustomersRead) {
		return "", nil
	}
	if id.Has(security.PermOrgLoginOnBehalf) && id.OrganizationID != "" {
		return id.OrganizationID, nil
	}
	return "", apperr.ErrForbidden
}

// CreateOrganization creates an organization (customers:write).
func (s *Service) CreateOrganization(ctx context.Context, name string) (*model.Organization, error) {
	if _, err := security.Require(ctx, security.PermCustomersWrite); err != nil {
		return nil, err
	}
	return s.CreateOrganizationUnchecked(ctx, name)
}

// CreateOrganizationUnchecked creates an organization without a permission check: for demo data and
// imports run by the operator of the server.
func (s *Service) CreateOrganizationUnchecked(ctx context.Context, name string) (*model.Organization, error) {
	name, err := apperr.Text("name", name, 1, 200)
	if err != nil {
		return nil, err
	}
	o := &model.Organization{ID: model.NewID(), Name: name, SearchText: store.SearchText(name)}
	if err := store.Conn(ctx, s.db).Create(o).Error; err != nil {
		return nil, fmt.Errorf("create organization: %w", err)
	}
	return o, nil
}

// CreateContactInput is what createContact takes.
type CreateContactInput struct {
	FirstName, LastName, Email string
	Phone                      *string
	OrganizationID             *string
}

// validPhone reports whether phone is 3–40 of the characters 0-9 + ( ) . / - and space (as the
// regular expression ^[0-9+()./ -]{3,40}$ would, without its cost: imports check a million).
func validPhone(phone string) bool {
	if len(phone) < 3 || len(phone) > 40 {
		return false
	}
	for i := 0; i < len(phone); i++ {
		switch c := phone[i]; {
		case '0' <= c && c <= '9', c == '+', c == '(', c == ')', c == '.', c == '/', c == ' ', c == '-':
		default:
			return false
		}
	}
	return true
}

// CreateContact creates a contact (customers:write).
func (s *Service) CreateContact(ctx context.Context, in CreateContactInput) (*model.Contact, error) {
	if _, err := security.Require(ctx, security.PermCustomersWrite); err != nil {
		return nil, err
	}
	return s.CreateContactUnchecked(ctx, in)
}

// CreateContactUnchecked creates a contact without a permission check: for demo data and imports run
// by the operator of the server.
func (s *Service) CreateContactUnchecked(ctx context.Context, in CreateContactInput) (*model.Contact, error) {
	c, err := newContact(in)
	if err != nil {
		return nil, err
	}
	db := store.Conn(ctx, s.db)
	if in.OrganizationID != nil {
		var n int64
		if err := db.Model(&model.Organization{}).Where("id = ?", *in.OrganizationID).Count(&n).Error; err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, apperr.Input("organizationId", "organization does not exist")
		}
		c.OrganizationID = in.OrganizationID
	}
	if err := db.Create(c).Error; err != nil {
		return nil, fmt.Errorf("create contact: %w", err)
	}
	if err := IndexContacts(ctx, db, c); err != nil {
		return nil, err
	}
	return c, nil
}

// newContact validates the input of a new contact (everything but the organization's existence): the
// one rule createContact and the importer share.
func newContact(in CreateContactInput) (*model.Contact, error) {
	var err error
	c := &model.Contact{ID: model.NewID()}
	if c.FirstName, err = apperr.Text("firstName", in.FirstName, 1, 100); err != nil {
		return nil, err
	}
	if c.LastName, err = apperr.Text("lastName", in.LastName, 1, 100); err != nil {
		return nil, err
	}
	c.Email = strings.TrimSpace(in.Email)
	if err := security.ValidateEmail("email", c.Email); err != nil {
		return nil, err
	}
	if in.Phone != nil && strings.TrimSpace(*in.Phone) != "" {
		c.Phone = strings.TrimSpace(*in.Phone)
		if !validPhone(c.Phone) {
			return nil, apperr.Input("phone", "phone may contain digits, spaces and + ( ) . / - (3–40 characters)")
		}
	}
	c.SearchText = store.SearchText(c.FirstName, c.LastName, c.Email)
	return c, nil
}

// OrganizationOf returns the organization id of the user's contact, or "" (the login-on-behalf policy
// scopes organization maintainers by it).
func (s *Service) OrganizationOf(ctx context.Context, u *model.User) (string, error) {
	if u.ContactID == nil {
		return "", nil
	}
	var org []*string
	err := store.Conn(ctx, s.db).Model(&model.Contact{}).Where("id = ?", *u.ContactID).Pluck("organization_id", &org).Error
	if err != nil {
		return "", fmt.Errorf("organization of user %s: %w", u.ID, err)
	}
	if len(org) == 0 || org[0] == nil {
		return "", nil
	}
	return *org[0], nil
}

// Organizations lists organizations matching words of their name.
func (s *Service) Organizations(ctx context.Context, search *string, page store.PageArgs) (*model.OrganizationConnection, error) {
	scope, err := readScope(ctx)
	if err != nil {
		return nil, err
	}
	q := s.db.WithContext(ctx).Model(&model.Organization{})
	if scope != "" {
		q = q.Where("id = ?", scope)
	}
	q = store.MatchWords(q, "organizations", search)
	return store.Page(ctx, q, page, false, func(o *model.Organization) string { return o.ID })
}

// Organization returns one organization, or nil.
func (s *Service) Organization(ctx context.Context, id string) (*model.Organization, error) {
	scope, err := readScope(ctx)
	if err != nil {
		return nil, err
	}
	if scope != "" && scope != id {
		return nil, nil
	}
	return s.OrganizationByID(ctx, id)
}

// OrganizationByID loads an organization without a permission check, for field resolvers whose parent
// was already authorized.
func (s *Service) OrganizationByID(ctx context.Context, id string) (*model.Organization, error) {
	var o model.Organization
	err := s.db.WithContext(ctx).First(&o, "id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	return &o, err
}

// OrganizationsByIDs loads organizations in the order of ids, for dataloaders.
func (s *Service) OrganizationsByIDs(ctx context.Context, ids []string) ([]*model.Organization, error) {
	return store.ByIDs(ctx, s.db, ids, func(x *model.Organization) string { return x.ID })
}

// Contacts lists contacts matching words of first name, last name, full name or email, optionally
// within one organization.
func (s *Service) Contacts(ctx context.Context, search, organizationID *string, page store.PageArgs) (*model.ContactConnection, error) {
	scope, err := readScope(ctx)
	if err != nil {
		return nil, err
	}
	q := s.db.WithContext(ctx).Model(&model.Contact{}).Select(contactColumns)
	// Asked for another organization than the caller's, or for an id no organization can have (a
	// NUL or invalid UTF-8, which PostgreSQL refuses with an error rather than matching nothing).
	none := organizationID != nil && (!utf8.ValidString(*organizationID) || strings.IndexByte(*organizationID, 0) >= 0)
	if scope != "" {
		none = none || organizationID != nil && *organizationID != scope
		organizationID = &scope
	}
	var words []string
	if search != nil && strings.TrimSpace(*search) != "" {
		words = Fold(*search)
		none = none || len(words) == 0 // a search without any word matches nothing
	}
	switch {
	case none:
		q = q.Where("1 = 0")
	case len(words) > 0:
		return s.searchContacts(ctx, words, organizationID, page)
	case organizationID != nil:
		q = q.Where("organization_id = ?", *organizationID)
	}
	return store.Page(ctx, q, page, false, func(c *model.Contact) string { return c.ID })
}

// Contact returns one contact, or nil.
func (s *Service) Contact(ctx context.Context, id string) (*model.Contact, error) {
	scope, err := readScope(ctx)
	if err != nil {
		return nil, err
	}
	var c model.Contact
	err = s.db.WithContext(ctx).Select(contactColumns).First(&c, "id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if scope != "" && (c.OrganizationID == nil || *c.OrganizationID != scope) {
		return nil, nil
	}
	return &c, nil
}

// ContactByID loads a contact without a permission check (for User.contact of an authorized user).
func (s *Service) ContactByID(ctx context.Context, id string) (*model.Contact, error) {
	var c model.Contact
	err := s.db.WithContext(ctx).Select(contactColumns).First(&c, "id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	return &c, err
}

// ContactsByIDs loads contacts in the order of ids (nil where missing), for dataloaders; the parents
// (users) were already authorized.
func (s *Service) ContactsByIDs(ctx context.Context, ids []string) ([]*model.Contact, error) {
	return store.ByIDs(ctx, s.db.Select(contactColumns), ids, func(x *model.Contact) string { return x.ID })
}

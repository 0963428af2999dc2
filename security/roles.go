package security

import (
	"sort"

	"behalf/model"
)

// Permission names of the contract.
const (
	PermCustomersRead        = "customers:read"
	PermCustomersWrite       = "customers:write"
	PermSecurityRead         = "security:read"
	PermSecurityWrite        = "security:write"
	PermSecuritySessions     = "security:sessions"
	PermLoginOnBehalf        = "security:loginOnBehalf"
	PermOrgLoginOnBehalf     = "organization:loginOnBehalf"
	PermAuditRead            = "audit:read"
	PermOrdersRead           = "orders:read"
	PermCatalogWrite         = "catalog:write"
	PermIntegrationsManage   = "integrations:manage"
	RoleAdministrator        = "administrator"
	RoleSupport              = "support"
	RoleOrganizationMaintain = "organization-maintainer"
	RoleCustomer             = "customer"
)

// AllPermissions is every permission; administrators hold them all.
var AllPermissions = []string{
	PermCustomersRead, PermCustomersWrite, PermSecurityRead, PermSecurityWrite, PermSecuritySessions,
	PermLoginOnBehalf, PermAuditRead, PermOrdersRead, PermCatalogWrite, PermIntegrationsManage,
}

// Roles maps each role to its permissions.
var Roles = map[string][]string{
	RoleAdministrator:        AllPermissions,
	RoleSupport:              {PermCustomersRead, PermSecurityRead, PermLoginOnBehalf, PermAuditRead, PermOrdersRead},
	RoleOrganizationMaintain: {PermOrgLoginOnBehalf},
	RoleCustomer:             {},
}

// PermissionSet is a set of permission names.
type PermissionSet map[string]bool

// PermissionsOf returns the permissions the roles grant.
func PermissionsOf(roles []string) PermissionSet {
	ps := PermissionSet{}
	for _, r := range roles {
		for _, p := range Roles[r] {
			ps[p] = true
		}
	}
	return ps
}

// List returns the permissions sorted.
func (ps PermissionSet) List() []string {
	out := make([]string, 0, len(ps))
	for p := range ps {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// IsStaff reports whether the set holds any permission other than organization:loginOnBehalf: staff
// are never the target of a login on behalf.
func (ps PermissionSet) IsStaff() bool {
	for p := range ps {
		if p != PermOrgLoginOnBehalf {
			return true
		}
	}
	return false
}

// IsStaff reports whether u holds a staff permission.
func IsStaff(u *model.User) bool { return PermissionsOf(u.Roles).IsStaff() }

// ValidRole reports whether r is a known role.
func ValidRole(r string) bool { _, ok := Roles[r]; return ok }

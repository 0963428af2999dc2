package security

// MaySeeAccount reports whether viewer may see the account of user userID (e-mail, roles,
// permissions): their own (inside a login-on-behalf session, the operator's too), or any with
// security:read. Everyone else, such as the customer in whose account staff act, sees only the staff
// member's display name.
func MaySeeAccount(viewer *Identity, userID string) bool {
	switch {
	case viewer == nil:
		return false
	case viewer.User != nil && viewer.User.ID == userID:
		return true
	case viewer.Operator != nil && viewer.Operator.ID == userID:
		return true
	}
	return viewer.Has(PermSecurityRead)
}

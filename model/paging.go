package model

import "context"

// Connection is a Relay page of T. TotalCount is computed only when the client asks for it.
type Connection[T any] struct {
	Edges    []*Edge[T]
	PageInfo *PageInfo
	// Count computes the total number of matches; nil means len(Edges).
	Count func(ctx context.Context) (int, error) `json:"-"`
}

// Edge is one node of a page with its cursor.
type Edge[T any] struct {
	Cursor string
	Node   *T
}

// PageInfo is Relay's page information.
type PageInfo struct {
	HasNextPage bool
	EndCursor   *string
}

// The connection types of the schema.
type (
	ContactConnection      = Connection[Contact]
	ContactEdge            = Edge[Contact]
	OrganizationConnection = Connection[Organization]
	OrganizationEdge       = Edge[Organization]
	UserConnection         = Connection[User]
	UserEdge               = Edge[User]
	AuditEventConnection   = Connection[AuditEvent]
	AuditEventEdge         = Edge[AuditEvent]
)

// TotalCount counts every match; computed only when the field is selected.
func (c *Connection[T]) TotalCount(ctx context.Context) (int, error) {
	if c.Count == nil {
		return len(c.Edges), nil
	}
	return c.Count(ctx)
}

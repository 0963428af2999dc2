package graph

import (
	"behalf/graph/generated"
	"behalf/model"
	"behalf/store"
)

// pageCost prices a connection field: its selection once per requested node, so that a client cannot
// ask for 100 pages of 100 nodes in one cheap-looking query.
func pageCost(child int, first *int) int {
	n := store.DefaultPageSize
	if first != nil && *first >= 0 {
		n = min(*first, store.MaxPageSize)
	}
	return 1 + child*max(n, 1)
}

// setComplexity prices the connection fields by page size.
func setComplexity(c *generated.ComplexityRoot) {
	c.Query.Users = func(child int, _ *string, first *int, _ *string) int { return pageCost(child, first) }
	c.Query.Contacts = func(child int, _ *string, _ *string, first *int, _ *string) int { return pageCost(child, first) }
	c.Query.Organizations = func(child int, _ *string, first *int, _ *string) int { return pageCost(child, first) }
	c.Query.AuditEvents = func(child int, _ *model.AuditEventFilter, first *int, _ *string) int { return pageCost(child, first) }
	c.Organization.Contacts = func(child int, first *int, _ *string) int { return pageCost(child, first) }
	c.Query.MyOnBehalfActivity = func(child int, first *int, _ *string) int { return pageCost(child, first) }
	c.Query.Products = func(child int, _ *string, first *int, _ *string) int { return pageCost(child, first) }
	c.Query.Orders = func(child int, first *int, _ *string) int { return pageCost(child, first) }
}

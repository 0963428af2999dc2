package graph

import (
	"context"

	"behalf/security"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// shedPasswordMutations refuses a password mutation (login, confirmOnBehalf, changePassword) with
// TOO_MANY_REQUESTS, HTTP 429 and the hasher's Retry-After as soon as its operation is known (the
// parsed document comes from the query cache), when the hasher would refuse it anyway: every slot
// busy, the queue full. Such a refusal runs no resolver, reads and writes nothing (no transaction, no
// audit event: no password was looked at and no account named; the access log and the
// password_hash_rejections_total metric count it), so a login storm costs the server little more
// than reading the requests. A request that slips past (the hasher fills up meanwhile) is refused by
// the limiter in the resolver as before, and audited.
func shedPasswordMutations(h *security.Hasher, present graphql.ErrorPresenterFunc) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		if h == nil || !h.Full() {
			return next(ctx)
		}
		oc := graphql.GetOperationContext(ctx)
		if oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Mutation || len(oc.Operation.SelectionSet) != 1 {
			return next(ctx)
		}
		if f, ok := oc.Operation.SelectionSet[0].(*ast.Field); !ok || !PasswordMutations[f.Name] {
			return next(ctx)
		}
		e := present(ctx, h.Refuse())
		return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{e}})
	}
}

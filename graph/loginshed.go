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
// busy, the queue full, the rate or the client address's share of it used up. Such a refusal runs no
// resolver, reads and writes nothing (no transaction, no
// audit event: no password was looked at and no account named; the access log and the
// password_hash_rejections_total metric count it), so a login storm costs the server little more
// than reading the requests. A request that slips past (the hasher fills up meanwhile) is refused by
// the limiter in the resolver as before, and audited.
func shedPasswordMutations(h *security.Hasher, present graphql.ErrorPresenterFunc) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		if h == nil {
			return next(ctx)
		}
		oc := graphql.GetOperationContext(ctx)
		if oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Mutation {
			return next(ctx)
		}
		if f := firstField(oc.Doc, oc.Operation.SelectionSet, 0); f == nil || !PasswordMutations[f.Name] || !h.FullFor(ctx) {
			return next(ctx)
		}
		e := present(ctx, h.RefuseFor(ctx))
		return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{e}})
	}
}

// firstField returns the first field of set, looking into inline fragments and fragment spreads, so
// that a login wrapped in a fragment is shed too (onePasswordGuess has already refused a document
// where a password mutation is not the only field). Validation refuses fragment cycles; depth bounds
// the walk anyway.
func firstField(doc *ast.QueryDocument, set ast.SelectionSet, depth int) *ast.Field {
	if depth > 8 {
		return nil
	}
	for _, s := range set {
		var f *ast.Field
		switch s := s.(type) {
		case *ast.Field:
			return s
		case *ast.InlineFragment:
			f = firstField(doc, s.SelectionSet, depth+1)
		case *ast.FragmentSpread:
			if doc != nil {
				if d := doc.Fragments.ForName(s.Name); d != nil {
					f = firstField(doc, d.SelectionSet, depth+1)
				}
			}
		}
		if f != nil {
			return f
		}
	}
	return nil
}

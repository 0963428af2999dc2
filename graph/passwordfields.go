package graph

import (
	"context"

	"behalf/apperr"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// PasswordMutations are the mutations that check a password. A document may hold at most one of
// them and no other mutation field, so that one request is one guess: forty aliased logins in one
// document would otherwise cost forty hashes and pass the throttle together.
var PasswordMutations = map[string]bool{"login": true, "confirmOnBehalf": true, "changePassword": true}

// onePasswordGuess refuses, after validation and before any resolver runs, a mutation that selects
// a password mutation together with any other root field (aliases and fragments included).
type onePasswordGuess struct{}

var (
	_ graphql.HandlerExtension        = onePasswordGuess{}
	_ graphql.OperationContextMutator = onePasswordGuess{}
)

func (onePasswordGuess) ExtensionName() string                          { return "OnePasswordGuess" }
func (onePasswordGuess) Validate(schema graphql.ExecutableSchema) error { return nil }

func (onePasswordGuess) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil || oc.Operation.Operation != ast.Mutation {
		return nil
	}
	var fields, password int
	var walk func(set ast.SelectionSet, seen map[string]bool)
	walk = func(set ast.SelectionSet, seen map[string]bool) {
		for _, s := range set {
			switch s := s.(type) {
			case *ast.Field:
				fields++
				if PasswordMutations[s.Name] {
					password++
				}
			case *ast.InlineFragment:
				walk(s.SelectionSet, seen)
			case *ast.FragmentSpread:
				if seen[s.Name] {
					continue
				}
				seen[s.Name] = true
				if f := oc.Doc.Fragments.ForName(s.Name); f != nil {
					walk(f.SelectionSet, seen)
				}
			}
		}
	}
	walk(oc.Operation.SelectionSet, map[string]bool{})
	if password > 0 && fields > 1 {
		return &gqlerror.Error{
			Message:    "a password-checking mutation (login, confirmOnBehalf, changePassword) must be the only field of its document",
			Extensions: map[string]any{"code": string(apperr.BadRequest)},
		}
	}
	return nil
}

package graph_test

import (
	"regexp"
	"testing"

	"behalf/graph/generated"
)

var auditActionRE = regexp.MustCompile(`^[a-z]+(\.[a-zA-Z]+)+$`)

// TestEveryMutationIsAudited fails when a Mutation field lacks @audit(action: "<area>.<verb>"), or when
// @audit is not its last directive (gqlgen makes the last directive outermost; only then are refusals
// by the other directives audited too).
func TestEveryMutationIsAudited(t *testing.T) {
	t.Parallel()
	schema := generated.NewExecutableSchema(generated.Config{}).Schema()
	if schema.Mutation == nil || len(schema.Mutation.Fields) == 0 {
		t.Fatal("schema has no mutations")
	}
	for _, f := range schema.Mutation.Fields {
		if len(f.Name) > 1 && f.Name[:2] == "__" {
			continue
		}
		d := f.Directives.ForName("audit")
		if d == nil {
			t.Errorf("Mutation.%s has no @audit directive", f.Name)
			continue
		}
		if last := f.Directives[len(f.Directives)-1]; last.Name != "audit" {
			t.Errorf("Mutation.%s: @audit must be the last directive, not @%s", f.Name, last.Name)
		}
		arg := d.Arguments.ForName("action")
		if arg == nil || arg.Value == nil || !auditActionRE.MatchString(arg.Value.Raw) {
			t.Errorf("Mutation.%s: @audit needs action: \"<area>.<verb>\"", f.Name)
		}
	}
}

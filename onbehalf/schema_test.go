package onbehalf_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"behalf/model"
	"behalf/onbehalf"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// sensitiveFields must carry @denyOnBehalf: the policy's own list (the rule of login-on-behalf.md).
var sensitiveFields = onbehalf.DeniedInSession

// sensitiveName matches field names that by their name touch credentials, email, consent, keys, login
// on behalf or account deletion; sensitiveArg matches argument and input field names carrying a
// password. Fields found this way must be marked even if nobody remembered to list them.
var (
	sensitiveName = regexp.MustCompile(`(?i)password|apikey|email|consent|allowloginonbehalf|onbehalf|(delete|remove|close|erase).*(account|user|me$)|(account|user).*(delete|remove|close|erase)`)
	sensitiveArg  = regexp.MustCompile(`(?i)password`)
	// notSensitive are fields the name rule matches that must stay usable in the session.
	notSensitive = map[string]bool{
		"Mutation.endOnBehalf":        true, // the way out of the session
		"Query.myOnBehalfActivity":    true, // read-only: the customer's own record of the sessions
		"Mutation.login":              true, // opens a new session of whoever signs in; the account is untouched
		"Query.onBehalfTicketPreview": true, // read-only and anonymous: whom a ticket is for (the confirm page)
	}
)

// loadSchema parses the repository's schema files.
func loadSchema(t *testing.T) *ast.Schema {
	t.Helper()
	files, _ := filepath.Glob("../schema/*.graphqls")
	files = append([]string{"../schema.graphqls"}, files...)
	var srcs []*ast.Source
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, &ast.Source{Name: f, Input: string(b)})
	}
	s, err := gqlparser.LoadSchema(srcs...)
	if err != nil {
		t.Fatalf("parse schema: %v", err)
	}
	return s
}

// unmarked lists the operations (fields of Query and Mutation) that must carry @denyOnBehalf and do
// not, plus required fields missing from the schema, and marked fields where @audit is not the last
// directive (so the refusal would escape the audit trail).
func unmarked(s *ast.Schema, required []string) []string {
	var bad []string
	for _, name := range required {
		typ, field, _ := strings.Cut(name, ".")
		if s.Types[typ] == nil || s.Types[typ].Fields.ForName(field) == nil {
			bad = append(bad, name+" (missing from the schema)")
		}
	}
	for _, op := range []*ast.Definition{s.Query, s.Mutation} {
		if op == nil {
			continue
		}
		for _, f := range op.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			name := op.Name + "." + f.Name
			must := slices.Contains(required, name) ||
				(!notSensitive[name] && (sensitiveName.MatchString(f.Name) || takesPassword(s, f.Arguments, 0)))
			marked := f.Directives.ForName("denyOnBehalf") != nil
			if must && !marked {
				bad = append(bad, name)
			}
			if marked && op == s.Mutation && (len(f.Directives) == 0 || f.Directives[len(f.Directives)-1].Name != "audit") {
				bad = append(bad, name+" (@audit must be its last directive)")
			}
		}
	}
	sort.Strings(bad)
	return bad
}

// takesPassword reports whether any argument, or any field of an input type it takes, is a password.
func takesPassword(s *ast.Schema, args ast.ArgumentDefinitionList, depth int) bool {
	for _, a := range args {
		if sensitiveArg.MatchString(a.Name) || inputHasPassword(s, a.Type, depth) {
			return true
		}
	}
	return false
}

func inputHasPassword(s *ast.Schema, typ *ast.Type, depth int) bool {
	def := s.Types[typ.Name()]
	if def == nil || def.Kind != ast.InputObject || depth > 5 {
		return false
	}
	for _, f := range def.Fields {
		if sensitiveArg.MatchString(f.Name) || inputHasPassword(s, f.Type, depth+1) {
			return true
		}
	}
	return false
}

// TestSensitiveFieldsMarked: every sensitive field of the schema carries @denyOnBehalf (with @audit
// last), and TestDeniedInScopedSession calls every field that does.
func TestSensitiveFieldsMarked(t *testing.T) {
	t.Parallel()
	s := loadSchema(t)
	if bad := unmarked(s, sensitiveFields); len(bad) > 0 {
		t.Errorf("fields lacking @denyOnBehalf: %v", bad)
	}
	nobody := &model.User{}
	calls := deniedInSession(&world{t: t, admin: nobody, customer: nobody, customer2: nobody})
	for _, op := range []*ast.Definition{s.Query, s.Mutation} {
		for _, f := range op.Fields {
			if f.Directives.ForName("denyOnBehalf") != nil {
				if _, ok := calls[f.Name]; !ok {
					t.Errorf("%s.%s is marked @denyOnBehalf but TestDeniedInScopedSession does not call it", op.Name, f.Name)
				}
			}
		}
	}
}

// TestSensitiveFieldsCheckFails: the check above catches a missing marker, whether the field is listed
// or only looks sensitive, a missing listed field, and @audit not being last.
func TestSensitiveFieldsCheckFails(t *testing.T) {
	t.Parallel()
	base := `directive @audit(action: String!) on FIELD_DEFINITION
directive @denyOnBehalf on FIELD_DEFINITION
input NewAccount { login: String! secret: Secret! }
input Secret { password: String! }
type Query { me: String apiKeys: [String!]! @denyOnBehalf }
`
	cases := []struct {
		name, mutation string
		want           []string
	}{
		{"all marked", `type Mutation { changePassword(p: String!): Boolean! @denyOnBehalf @audit(action: "a") }`, nil},
		{"listed field unmarked", `type Mutation { changePassword(p: String!): Boolean! @audit(action: "a") }`,
			[]string{"Mutation.changePassword"}},
		{"listed field missing", `type Mutation { other: Boolean! @audit(action: "a") }`,
			[]string{"Mutation.changePassword (missing from the schema)"}},
		{"sensitive by name", `type Mutation { changePassword(p: String!): Boolean! @denyOnBehalf @audit(action: "a")
			deleteMyAccount: Boolean! @audit(action: "b") changeEmail(e: String!): Boolean! @audit(action: "c") }`,
			[]string{"Mutation.changeEmail", "Mutation.deleteMyAccount"}},
		{"password in a nested input", `type Mutation { changePassword(p: String!): Boolean! @denyOnBehalf @audit(action: "a")
			register(input: NewAccount!): Boolean! @audit(action: "b") }`, []string{"Mutation.register"}},
		{"audit not last", `type Mutation { changePassword(p: String!): Boolean! @audit(action: "a") @denyOnBehalf }`,
			[]string{"Mutation.changePassword (@audit must be its last directive)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := gqlparser.LoadSchema(&ast.Source{Name: "t", Input: base + c.mutation})
			if err != nil {
				t.Fatal(err)
			}
			got := unmarked(s, []string{"Mutation.changePassword", "Query.apiKeys"})
			if strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

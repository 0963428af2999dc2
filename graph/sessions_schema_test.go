package graph_test

import (
	"regexp"
	"strings"
	"testing"

	"behalf/audit"
	"behalf/graph/generated"
	"behalf/onbehalf"

	"github.com/vektah/gqlparser/v2/ast"
)

// servedSchema is the schema the server executes (the generated one, not the .graphqls sources).
func servedSchema() *ast.Schema {
	return generated.NewExecutableSchema(generated.Config{}).Schema()
}

// rootFields returns the Query and Mutation fields of the served schema.
func rootFields(s *ast.Schema) []*ast.FieldDefinition {
	var out []*ast.FieldDefinition
	for _, def := range []*ast.Definition{s.Query, s.Mutation} {
		for _, f := range def.Fields {
			if !strings.HasPrefix(f.Name, "__") {
				out = append(out, f)
			}
		}
	}
	return out
}

// TestCredentialFieldsRefuseAPIKeysAndOnBehalf: an API key can never log in on behalf or manage keys or
// sessions, and none of that (nor a password or consent change) is possible inside a login-on-behalf
// session. The rule is visible in the schema as directives; this fails when a field lacks one,
// including any field later added to schema/sessions.graphqls.
func TestCredentialFieldsRefuseAPIKeysAndOnBehalf(t *testing.T) {
	t.Parallel()
	s := servedSchema()
	// The lists are the login-on-behalf policy's own, the ones onbehalf's schema test reads too.
	denyAPIKey, denyOnBehalf := fieldSet(onbehalf.DeniedToAPIKeys), fieldSet(onbehalf.DeniedInSession)
	inSessionsFile := 0
	for _, f := range rootFields(s) {
		if f.Position != nil && f.Position.Src != nil && strings.HasSuffix(f.Position.Src.Name, "schema/sessions.graphqls") {
			denyAPIKey[f.Name] = true // every session and API key field manages credentials
			inSessionsFile++
		}
	}
	if inSessionsFile < 8 {
		t.Errorf("found %d root fields in schema/sessions.graphqls, want at least the 8 of the contract", inSessionsFile)
	}
	for _, f := range rootFields(s) {
		if denyAPIKey[f.Name] && f.Directives.ForName("denyApiKey") == nil {
			t.Errorf("%s lacks @denyApiKey", f.Name)
		}
		if denyOnBehalf[f.Name] && f.Directives.ForName("denyOnBehalf") == nil {
			t.Errorf("%s lacks @denyOnBehalf", f.Name)
		}
		delete(denyAPIKey, f.Name)
		delete(denyOnBehalf, f.Name)
	}
	for name := range denyAPIKey {
		t.Errorf("field %s is missing from the schema", name)
	}
	for name := range denyOnBehalf {
		t.Errorf("field %s is missing from the schema", name)
	}
}

// fieldSet maps "Type.field" names to their field names.
func fieldSet(names []string) map[string]bool {
	out := map[string]bool{}
	for _, n := range names {
		_, f, _ := strings.Cut(n, ".")
		out[f] = true
	}
	return out
}

// TestSessionMutationsAudited: each session and API key mutation records its contract action, with
// @audit last so that directive refusals are recorded too.
func TestSessionMutationsAudited(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		"revokeSession": "session.revoke", "revokeAllSessions": "session.revokeAll",
		"changePassword": "auth.password.change", "generateApiKey": "apikey.generate", "revokeApiKey": "apikey.revoke",
	}
	for _, f := range servedSchema().Mutation.Fields {
		action, ok := want[f.Name]
		if !ok {
			continue
		}
		delete(want, f.Name)
		ds := f.Directives
		if len(ds) == 0 || ds[len(ds)-1].Name != "audit" || ds[len(ds)-1].Arguments.ForName("action").Value.Raw != action {
			t.Errorf("%s: want @audit(action: %q) as its last directive", f.Name, action)
		}
	}
	for name := range want {
		t.Errorf("mutation %s is missing", name)
	}
}

// TestSecretArgumentsRedacted: every argument of the schema that carries a secret (by its name) is
// redacted from audit rows, so a new secret argument cannot slip into the trail unnoticed.
func TestSecretArgumentsRedacted(t *testing.T) {
	t.Parallel()
	secretName := regexp.MustCompile(`(?i)password|secret|token|ticket`)
	seen := map[string]bool{}
	for _, f := range rootFields(servedSchema()) {
		for _, a := range f.Arguments {
			if !secretName.MatchString(a.Name) {
				continue
			}
			seen[a.Name] = true
			if got := audit.RedactArgs(map[string]any{a.Name: "s3cr3t-value"}); strings.Contains(got, "s3cr3t-value") {
				t.Errorf("argument %s.%s is recorded: %s", f.Name, a.Name, got)
			}
		}
	}
	for _, name := range []string{"currentPassword", "newPassword", "password", "ticket"} {
		if !seen[name] {
			t.Errorf("expected a secret argument named %s in the schema", name)
		}
	}
	// The API key secret is a result, not an argument; should a client ever echo it back as one, it
	// is redacted too.
	if got := audit.RedactArgs(map[string]any{"secret": "bhk_x", "input": map[string]any{"secret": "bhk_y"}}); strings.Contains(got, "bhk_") {
		t.Errorf("secret recorded: %s", got)
	}
}

package main

import "testing"

// TestSafeMarshal: a leaf field marshals without its field context only when its marshal method
// cannot report an error for it: optional values, enums, and the never-null prelude scalars; not a
// non-null Time (graphql.MarshalTime answers null for the zero time, an error with the field's path),
// nor anything that marshals an object or a list.
func TestSafeMarshal(t *testing.T) {
	t.Parallel()
	nullCheck := `
	if res == graphql.Null {
		if !graphql.HasFieldError(ctx, graphql.GetFieldContext(ctx)) {
			graphql.AddErrorf(ctx, "the requested element is null which the schema does not allow")
		}
	}
	return res`
	for _, c := range []struct {
		name string
		body string
		want bool
	}{
		{"String!", "_ = sel\n\tres := graphql.MarshalString(v)" + nullCheck, true},
		{"ID!", "_ = sel\n\tres := graphql.MarshalID(v)" + nullCheck, true},
		{"Int!", "_ = sel\n\tres := graphql.MarshalInt(v)" + nullCheck, true},
		{"Boolean!", "_ = sel\n\tres := graphql.MarshalBoolean(v)" + nullCheck, true},
		{"Time!", "_ = sel\n\tres := graphql.MarshalTime(v)" + nullCheck, false},
		{"Float!", "_ = sel\n\tres := graphql.MarshalFloatContext(v)\n\treturn graphql.WrapContextMarshaler(ctx, res)", false},
		{"String", "if v == nil {\n\t\treturn graphql.Null\n\t}\n\t_ = sel\n\t_ = ctx\n\tres := graphql.MarshalString(*v)\n\treturn res", true},
		{"enum", "return v", true},
		{"object", "if v == nil {\n\t\treturn graphql.Null\n\t}\n\treturn ec._Contact(ctx, sel, v)", false},
		{"list", "ret := make(graphql.Array, len(v))\n\tfor i := range v {\n\t\tret[i] = ec.marshalNString2string(ctx, sel, v[i])\n\t}\n\treturn ret", false},
	} {
		if got := safeMarshal(c.body); got != c.want {
			t.Errorf("%s: safeMarshal = %t, want %t", c.name, got, c.want)
		}
	}
}

package main

import (
	"strings"
	"testing"
)

// TestSchemaCommand: `behalf schema` prints the SDL (for frontend code generators) without a database.
func TestSchemaCommand(t *testing.T) {
	code, out, errs := runCLI(t, "", nil, "schema")
	if code != 0 || !strings.Contains(out, "type Query {") || !strings.Contains(out, "onBehalfTicketPreview") {
		t.Fatalf("exit %d, stderr %q, stdout starts %.200q", code, errs, out)
	}
	if code, _, _ := runCLI(t, "", nil, "schema", "extra"); code != 2 {
		t.Errorf("schema with an argument: exit %d", code)
	}
}

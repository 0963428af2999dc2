package graph_test

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"behalf/internal/apptest"
	"behalf/internal/dbtest"
)

// TestGraphQLOverHTTPAudit runs the graphql-http audit suite (the npm package's serverAudits, from
// test/graphql-http with its own package-lock.json) against the served handler: every audit, MUST,
// SHOULD and MAY, passes. Skipped when node or the installed package is missing, except under CI
// (.ci/run installs it with npm ci).
func TestGraphQLOverHTTPAudit(t *testing.T) {
	t.Parallel()
	dir, err := filepath.Abs("../test/graphql-http")
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", "graphql-http"))
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("graphql-http audit cannot run under CI: %v (run npm ci in %s)", err, dir)
		}
		t.Skipf("graphql-http audit needs node and `npm ci` in %s: %v", dir, err)
	}
	env := apptest.New(t, dbtest.SQLite(t))
	srv := httptest.NewServer(env.App.Handler)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "audit.mjs", srv.URL+"/graphql")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil || !strings.Contains(string(out), "PASSED 61/61") {
		t.Fatalf("graphql-http audit: %v", err)
	}
}

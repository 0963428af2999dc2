package graph_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"testing"

	"behalf/audit"
	"behalf/internal/apptest"
	"behalf/internal/clock"
	"behalf/internal/dbtest"
	"behalf/security"

	"gorm.io/gorm"
)

// TestAuditChainOverGraphQL: events expose seq, prevHash and hash, linked newest to oldest;
// auditCheckpoint returns the latest signed head to audit:read only.
func TestAuditChainOverGraphQL(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		_, admin := env.UserWithToken("ada", security.RoleAdministrator)
		_, customer := env.UserWithToken("carla", security.RoleCustomer)
		env.MustDo(admin, `mutation{ createOrganization(input:{name:"Acme"}){ id } }`, nil, nil)

		var out struct {
			AuditEvents struct {
				Edges []struct {
					Node struct {
						Seq            int
						PrevHash, Hash string
					}
				}
			}
			AuditCheckpoint *struct{ Seq int }
		}
		env.MustDo(admin, `{ auditEvents(first: 10){ edges{ node{ seq prevHash hash } } } auditCheckpoint { seq } }`, nil, &out)
		edges := out.AuditEvents.Edges
		if len(edges) != 3 || out.AuditCheckpoint != nil {
			t.Fatalf("events %+v checkpoint %+v", edges, out.AuditCheckpoint)
		}
		for i, e := range edges {
			if e.Node.Seq != 3-i || len(e.Node.Hash) != 64 {
				t.Errorf("event %d: %+v", i, e.Node)
			}
			if i+1 < len(edges) && e.Node.PrevHash != edges[i+1].Node.Hash {
				t.Errorf("event %d does not chain to the one before it", e.Node.Seq)
			}
		}
		if edges[2].Node.PrevHash != audit.GenesisHash {
			t.Errorf("first event's prevHash %s", edges[2].Node.PrevHash)
		}

		_, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := audit.New(db, clock.Real{}, audit.Signing{Key: key}).SignHead(context.Background())
		if err != nil || cp == nil {
			t.Fatalf("sign: %+v %v", cp, err)
		}
		var got struct {
			AuditCheckpoint struct {
				Seq                        int
				Hash, KeyID, Signature, At string
			}
		}
		env.MustDo(admin, `{ auditCheckpoint { seq hash at keyId signature } }`, nil, &got)
		if c := got.AuditCheckpoint; c.Seq != int(cp.Seq) || c.Hash != cp.Hash || c.KeyID != cp.KeyID || c.Signature != cp.Signature || c.At == "" {
			t.Fatalf("auditCheckpoint %+v, want %+v", c, cp)
		}
		if code := env.Do(customer, `{ auditCheckpoint { seq } }`, nil).Code(); code != "FORBIDDEN" {
			t.Fatalf("customer reads the checkpoint: %s", code)
		}
	})
}

package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"behalf/audit"
	"behalf/internal/clock"
	"behalf/internal/dbtest"
	"behalf/model"
	"behalf/store"

	"gorm.io/gorm"
)

// must fails the test on a database error.
func must(t *testing.T, res *gorm.DB) *gorm.DB {
	t.Helper()
	if res.Error != nil {
		t.Fatalf("database: %v", res.Error)
	}
	return res
}

// record appends n events.
func record(t *testing.T, svc *audit.Service, n int) {
	t.Helper()
	actor := "u1"
	for i := 0; i < n; i++ {
		ev := &model.AuditEvent{Action: "test.act", ActorID: &actor, ActorLogin: "alice", Arguments: fmt.Sprintf(`{"i":%d}`, i)}
		if err := svc.Record(context.Background(), ev); err != nil {
			t.Fatalf("record: %v", err)
		}
	}
}

// unprotect lets the test write the audit table the way an intruder with the owner's (or the file's)
// rights could: PostgreSQL triggers disabled by the owner, SQLite triggers dropped.
func unprotect(t *testing.T, db *gorm.DB) {
	t.Helper()
	if store.Dialect(db) == store.Postgres {
		must(t, db.Exec("ALTER TABLE audit_events DISABLE TRIGGER USER"))
		return
	}
	must(t, db.Exec("DROP TRIGGER audit_events_no_update"))
	must(t, db.Exec("DROP TRIGGER audit_events_no_delete"))
}

func verify(t *testing.T, db *gorm.DB, cp *audit.Checkpoint) *audit.Result {
	t.Helper()
	res, err := audit.Verify(context.Background(), audit.DBSource{DB: db}, 1, cp)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return res
}

func TestChainLinksEveryEvent(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		svc := audit.New(db, clock.NewFake(time.Date(2026, 1, 5, 9, 0, 0, 123456789, time.UTC)))
		record(t, svc, 5)
		var evs []model.AuditEvent
		must(t, db.Order("seq").Find(&evs))
		prev := audit.GenesisHash
		for i, ev := range evs {
			if ev.Seq != int64(i+1) || ev.PrevHash != prev || ev.Hash != audit.Hash(&ev) || len(ev.Hash) != 64 {
				t.Fatalf("event %d: seq %d prev %s hash %s", i, ev.Seq, ev.PrevHash, ev.Hash)
			}
			prev = ev.Hash
		}
		if res := verify(t, db, nil); res.Break != nil || res.Events != 5 {
			t.Fatalf("verify: %+v %v", res, res.Break)
		}
	})
}

func TestCanonicalEncodingCoversEveryField(t *testing.T) {
	t.Parallel()
	a, s := "a", "s"
	base := model.AuditEvent{ID: "x", At: time.Unix(1, 1000), Action: "a.b", ActorID: &a, SubjectID: &s, SessionID: &s,
		Seq: 1, PrevHash: audit.GenesisHash}
	h := audit.Hash(&base)
	empty := ""
	changes := map[string]func(e *model.AuditEvent){
		"seq": func(e *model.AuditEvent) { e.Seq = 2 }, "prevHash": func(e *model.AuditEvent) { e.PrevHash = "" },
		"id": func(e *model.AuditEvent) { e.ID = "y" }, "at": func(e *model.AuditEvent) { e.At = e.At.Add(time.Microsecond) },
		"action": func(e *model.AuditEvent) { e.Action = "a.c" }, "actorId": func(e *model.AuditEvent) { e.ActorID = &empty },
		"actorLogin": func(e *model.AuditEvent) { e.ActorLogin = "m" }, "subjectId": func(e *model.AuditEvent) { e.SubjectID = nil },
		"subjectLogin": func(e *model.AuditEvent) { e.SubjectLogin = "m" }, "onBehalf": func(e *model.AuditEvent) { e.OnBehalf = true },
		"sessionId": func(e *model.AuditEvent) { e.SessionID = nil }, "reason": func(e *model.AuditEvent) { e.Reason = "r" },
		"outcome": func(e *model.AuditEvent) { e.Outcome = "FAILURE" }, "errorCode": func(e *model.AuditEvent) { e.ErrorCode = "X" },
		"operation": func(e *model.AuditEvent) { e.Operation = "o" }, "arguments": func(e *model.AuditEvent) { e.Arguments = "{}" },
		"ip": func(e *model.AuditEvent) { e.IP = "1.2.3.4" }, "userAgent": func(e *model.AuditEvent) { e.UserAgent = "ua" },
		"requestId": func(e *model.AuditEvent) { e.RequestID = "r" },
		// Moving bytes between adjacent fields changes the hash too (length prefixes).
		"boundary": func(e *model.AuditEvent) { e.Action, e.ActorLogin = "a.", "b" },
	}
	for name, change := range changes {
		e := base
		change(&e)
		if audit.Hash(&e) == h {
			t.Errorf("changing %s keeps the hash", name)
		}
	}
}

// TestVerifyDetectsTampering: each way of rewriting the trail is reported with its kind and the first
// broken seq, on both databases, by an intruder who bypassed the append-only triggers.
func TestVerifyDetectsTampering(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		tamper func(t *testing.T, db *gorm.DB)
		seq    int64
		kind   string
	}{
		{"edited actor", func(t *testing.T, db *gorm.DB) {
			must(t, db.Exec("UPDATE audit_events SET actor_login = 'mallory' WHERE seq = 4"))
		}, 4, audit.Edited},
		{"deleted event", func(t *testing.T, db *gorm.DB) {
			must(t, db.Exec("DELETE FROM audit_events WHERE seq = 5"))
		}, 5, audit.Deleted},
		{"swapped order", func(t *testing.T, db *gorm.DB) {
			must(t, db.Exec("UPDATE audit_events SET seq = -1 WHERE seq = 6"))
			must(t, db.Exec("UPDATE audit_events SET seq = 6 WHERE seq = 7"))
			must(t, db.Exec("UPDATE audit_events SET seq = 7 WHERE seq = -1"))
		}, 6, audit.Reordered},
		{"inserted event", func(t *testing.T, db *gorm.DB) {
			for s := 10; s >= 6; s-- {
				must(t, db.Exec("UPDATE audit_events SET seq = ? WHERE seq = ?", s+1, s))
			}
			var prev model.AuditEvent
			must(t, db.First(&prev, "seq = ?", 5))
			fake := &model.AuditEvent{ID: model.NewID(), At: prev.At, Action: "test.act", ActorLogin: "mallory", Outcome: audit.Success,
				Seq: 6, PrevHash: prev.Hash}
			fake.Hash = audit.Hash(fake)
			must(t, db.Create(fake))
		}, 6, audit.Inserted},
		{"re-hashed edit", func(t *testing.T, db *gorm.DB) {
			var ev model.AuditEvent
			must(t, db.First(&ev, "seq = ?", 3))
			ev.ActorLogin = "mallory"
			must(t, db.Exec("UPDATE audit_events SET actor_login = ?, hash = ? WHERE seq = 3", ev.ActorLogin, audit.Hash(&ev)))
		}, 3, audit.Edited},
	}
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				db := dbtest.Open(t, store.Dialect(db))
				record(t, audit.New(db, clock.Real{}), 10)
				if res := verify(t, db, nil); res.Break != nil {
					t.Fatalf("intact chain reported %v", res.Break)
				}
				unprotect(t, db)
				c.tamper(t, db)
				res := verify(t, db, nil)
				if res.Break == nil || res.Break.Seq != c.seq || res.Break.Kind != c.kind {
					t.Fatalf("got %v, want seq %d %s", res.Break, c.seq, c.kind)
				}
			})
		}
		t.Run("truncated tail needs a checkpoint", func(t *testing.T) {
			db := dbtest.Open(t, store.Dialect(db))
			_, key, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			svc := audit.New(db, clock.Real{}, audit.Signing{Key: key})
			record(t, svc, 10)
			cp, err := svc.SignHead(context.Background())
			if err != nil || cp == nil || cp.Seq != 10 {
				t.Fatalf("checkpoint %+v %v", cp, err)
			}
			if err := audit.VerifyCheckpoint(cp, key.Public().(ed25519.PublicKey)); err != nil {
				t.Fatal(err)
			}
			unprotect(t, db)
			must(t, db.Exec("DELETE FROM audit_events WHERE seq > 7"))
			if res := verify(t, db, nil); res.Break != nil || res.Head.Seq != 7 {
				t.Fatalf("without the checkpoint the shorter chain is intact: %v", res.Break)
			}
			res := verify(t, db, cp)
			if res.Break == nil || res.Break.Seq != 8 || res.Break.Kind != audit.Deleted {
				t.Fatalf("got %v, want seq 8 deleted", res.Break)
			}
			forged := *cp
			forged.Seq = 7
			if audit.VerifyCheckpoint(&forged, key.Public().(ed25519.PublicKey)) == nil {
				t.Fatal("a changed checkpoint still verifies")
			}
		})
	})
}

// TestAuditTableRefusesRewrites: the triggers refuse UPDATE, DELETE (and on PostgreSQL TRUNCATE) of
// chained events to everyone, the owner included.
func TestAuditTableRefusesRewrites(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		record(t, audit.New(db, clock.Real{}), 2)
		stmts := []string{"UPDATE audit_events SET actor_login = 'x' WHERE seq = 1", "DELETE FROM audit_events WHERE seq = 2"}
		if store.Dialect(db) == store.Postgres {
			stmts = append(stmts, "TRUNCATE audit_events")
		}
		for _, q := range stmts {
			if err := db.Exec(q).Error; err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: %v", q, err)
			}
		}
		if res := verify(t, db, nil); res.Break != nil || res.Events != 2 {
			t.Fatalf("after refused rewrites: %+v", res)
		}
	})
}

// TestSealChainsOlderEvents: events recorded before the chain existed (no seq) are chained by Seal,
// which the trigger allows once, content unchanged.
func TestSealChainsOlderEvents(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		svc := audit.New(db, clock.Real{})
		record(t, svc, 2)
		for i := 0; i < 3; i++ {
			must(t, db.Exec("INSERT INTO audit_events (id, at, action, outcome) VALUES (?, ?, 'legacy', 'SUCCESS')", model.NewID(), time.Now().UTC()))
		}
		res := verify(t, db, nil)
		if res.Break == nil || res.Break.Kind != audit.Inserted {
			t.Fatalf("unchained events not reported: %v", res.Break)
		}
		n, err := svc.Seal(context.Background())
		if err != nil || n != 3 {
			t.Fatalf("seal: %d %v", n, err)
		}
		if res := verify(t, db, nil); res.Break != nil || res.Events != 5 {
			t.Fatalf("after seal: %+v %v", res, res.Break)
		}
		if err := db.Exec("UPDATE audit_events SET seq = NULL WHERE seq = 5").Error; err == nil {
			t.Fatal("a sealed event was unsealed")
		}
	})
}

// TestExportVerifies: an export carries the hashes, verifies on its own, and an edit to it is caught.
func TestExportVerifies(t *testing.T) {
	t.Parallel()
	db := dbtest.SQLite(t)
	record(t, audit.New(db, clock.Real{}), 4)
	var buf bytes.Buffer
	n, err := audit.ExportJSONL(context.Background(), audit.DBSource{DB: db}, 1, time.Time{}, &buf)
	if err != nil || n != 4 {
		t.Fatalf("export: %d %v", n, err)
	}
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := audit.Verify(context.Background(), audit.FileSource{Path: path}, 1, nil)
	if err != nil || res.Break != nil || res.Events != 4 {
		t.Fatalf("verify export: %+v %v", res, err)
	}
	tampered := strings.Replace(buf.String(), `"actorLogin":"alice"`, `"actorLogin":"mallory"`, 1)
	if err := os.WriteFile(path, []byte(tampered), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err = audit.Verify(context.Background(), audit.FileSource{Path: path}, 1, nil)
	if err != nil || res.Break == nil || res.Break.Seq != 1 || res.Break.Kind != audit.Edited {
		t.Fatalf("tampered export: %+v %v", res, err)
	}
}

// TestCheckpointsEveryNEventsAndTick: the signer signs after every N events and on each tick, and
// does not sign a head twice.
func TestCheckpointsEveryNEventsAndTick(t *testing.T) {
	t.Parallel()
	db := dbtest.SQLite(t)
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signed := make(chan *audit.Checkpoint)
	svc := audit.New(db, clock.Real{}, audit.Signing{Key: key, EveryN: 3, Signed: func(cp *audit.Checkpoint) { signed <- cp }})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tick := make(chan time.Time)
	go svc.RunCheckpoints(ctx, tick)
	record(t, svc, 3) // the third event wakes the signer
	if cp := <-signed; cp == nil || cp.Seq != 3 {
		t.Fatalf("after 3 events: %+v", cp)
	}
	record(t, svc, 1)
	tick <- time.Now()
	if cp := <-signed; cp == nil || cp.Seq != 4 {
		t.Fatalf("after a tick: %+v", cp)
	}
	tick <- time.Now()
	if cp := <-signed; cp == nil || cp.Seq != 4 {
		t.Fatalf("idle tick: %+v", cp)
	}
	var n int64
	dbtest.Must(t, db.Model(&audit.Checkpoint{}).Count(&n))
	if n != 2 {
		t.Fatalf("%d checkpoints stored, want 2", n)
	}
	latest, err := svc.LatestCheckpoint(context.Background())
	if err != nil || latest.Seq != 4 || audit.VerifyCheckpoint(latest, key.Public().(ed25519.PublicKey)) != nil {
		t.Fatalf("latest %+v %v", latest, err)
	}
}

// TestLoadKeyGeneratesOnce: the key file is generated once (mode 0600) and read back the same.
func TestLoadKeyGeneratesOnce(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "behalf-audit.key")
	if _, err := audit.LoadKey(path, false); err == nil {
		t.Fatal("a missing key file was accepted without create")
	}
	k1, err := audit.LoadKey(path, true)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v %v", st.Mode(), err)
	}
	k2, err := audit.LoadKey(path, true)
	if err != nil || !k1.Equal(k2) {
		t.Fatalf("reloaded key differs: %v", err)
	}
}

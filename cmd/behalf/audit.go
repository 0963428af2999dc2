package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"behalf/audit"
	"behalf/config"
	"behalf/internal/clock"
	"behalf/store"

	"gorm.io/gorm"
)

// Exit codes of `behalf audit verify`: the contract's.
const (
	exitIntact   = 0
	exitTampered = 1
	exitUsage    = 2
)

const auditUsage = `Usage:
  behalf audit verify [--db DSN] [--from SEQ] [--checkpoint FILE] [--file EXPORT]
  behalf audit export [--db DSN] [--since TIME] [--format jsonl]
  behalf audit checkpoint [--db DSN]
`

// auditCmd runs `behalf audit …` and returns the exit status: verify exits 0 when the chain is
// intact, 1 when tampered (naming the first broken seq and what broke), 2 on usage or connection
// errors; export and checkpoint exit 0 or 2.
func auditCmd(args []string, env func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, auditUsage)
		return exitUsage
	}
	var err error
	code := exitIntact
	switch args[0] {
	case "verify":
		code, err = auditVerify(args[1:], env, stdout, stderr)
	case "export":
		err = auditExport(args[1:], env, stdout, stderr)
	case "checkpoint":
		err = auditCheckpoint(args[1:], env, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "behalf audit: unknown command %q\n\n%s", args[0], auditUsage)
		return exitUsage
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitIntact
	}
	if err != nil {
		fmt.Fprintf(stderr, "behalf audit %s: %v\n", args[0], err)
		return exitUsage
	}
	return code
}

// auditDB opens the database without migrating it: the audit commands only read.
func auditDB(dsn string, env func(string) string, stderr io.Writer) (config.Config, *gorm.DB, error) {
	cfg, err := dbConfig(dsn, env)
	if err != nil {
		return cfg, nil, err
	}
	db, err := store.Open(cfg.DB, store.Options{
		Logger: &store.Logger{Base: newLogger(cfg, stderr), SlowThreshold: time.Minute},
	})
	if err != nil {
		return cfg, nil, err
	}
	if err := store.Ping(context.Background(), db); err != nil {
		return cfg, nil, fmt.Errorf("connect: %w", err)
	}
	return cfg, db, nil
}

func auditVerify(args []string, env func(string) string, stdout, stderr io.Writer) (int, error) {
	fs, dsn := dbFlags("behalf audit verify", stderr)
	from := fs.Int64("from", 1, "first sequence number to check (the event before it is trusted)")
	cpFile := fs.String("checkpoint", "", "a checkpoint saved by `behalf audit checkpoint`: the chain must still hold its head")
	file := fs.String("file", "", "verify an export (`behalf audit export`) instead of the database")
	keyFile := fs.String("key", "", "key file whose public half checks the checkpoint's signature (default BEHALF_AUDIT_KEY_FILE, or the embedded database's key)")
	if err := fs.Parse(args); err != nil {
		return exitUsage, err
	}
	if fs.NArg() > 0 {
		return exitUsage, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	ctx := context.Background()
	var cp *audit.Checkpoint
	if *cpFile != "" {
		b, err := os.ReadFile(*cpFile)
		if err != nil {
			return exitUsage, err
		}
		cp = &audit.Checkpoint{}
		if err := json.Unmarshal(b, cp); err != nil {
			return exitUsage, fmt.Errorf("checkpoint %s: %w", *cpFile, err)
		}
	}
	var src audit.Source
	cfg, err := dbConfig(*dsn, env)
	if err != nil {
		return exitUsage, err
	}
	if *file != "" {
		if _, err := os.Stat(*file); err != nil {
			return exitUsage, err
		}
		src = audit.FileSource{Path: *file}
	} else {
		_, db, err := auditDB(*dsn, env, stderr)
		if err != nil {
			return exitUsage, err
		}
		src = audit.DBSource{DB: db}
	}
	if cp != nil {
		path := *keyFile
		if path == "" {
			path = auditKeyPath(cfg)
		}
		if path == "" {
			fmt.Fprintln(stderr, "warning: no audit key configured: the checkpoint's signature is not checked")
		} else {
			key, err := audit.LoadKey(path, false)
			if err != nil {
				return exitUsage, err
			}
			if err := audit.VerifyCheckpoint(cp, key.Public().(ed25519.PublicKey)); err != nil {
				fmt.Fprintf(stdout, "TAMPERED: checkpoint %d: %v\n", cp.Seq, err)
				return exitTampered, nil
			}
		}
	}
	start := time.Now()
	res, err := audit.Verify(ctx, src, *from, cp)
	if err != nil {
		return exitUsage, err
	}
	took := time.Since(start).Round(time.Millisecond)
	if res.Break != nil {
		fmt.Fprintf(stdout, "TAMPERED: first broken seq %d: %s (%s)\n", res.Break.Seq, res.Break.Kind, res.Break.Detail)
		return exitTampered, nil
	}
	fmt.Fprintf(stdout, "OK: %d events intact (seq %d to %d, head %s) in %s\n", res.Events, res.From, res.Head.Seq, res.Head.Hash, took)
	if cp != nil {
		fmt.Fprintf(stdout, "OK: the chain holds checkpoint %d\n", cp.Seq)
	}
	return exitIntact, nil
}

func auditExport(args []string, env func(string) string, stdout, stderr io.Writer) error {
	fs, dsn := dbFlags("behalf audit export", stderr)
	since := fs.String("since", "", "only events at or after this RFC 3339 time")
	format := fs.String("format", "jsonl", "output format: jsonl (one event with its hashes per line)")
	from := fs.Int64("from", 1, "only events from this sequence number on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *format != "jsonl" {
		return fmt.Errorf("--format: only jsonl is supported")
	}
	var t time.Time
	if *since != "" {
		var err error
		if t, err = time.Parse(time.RFC3339, *since); err != nil {
			return fmt.Errorf("--since: not an RFC 3339 time: %w", err)
		}
	}
	_, db, err := auditDB(*dsn, env, stderr)
	if err != nil {
		return err
	}
	_, err = audit.ExportJSONL(context.Background(), audit.DBSource{DB: db}, *from, t, stdout)
	return err
}

func auditCheckpoint(args []string, env func(string) string, stdout, stderr io.Writer) error {
	fs, dsn := dbFlags("behalf audit checkpoint", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, db, err := auditDB(*dsn, env, stderr)
	if err != nil {
		return err
	}
	ctx := context.Background()
	var signing audit.Signing
	if path := auditKeyPath(cfg); path != "" {
		if signing.Key, err = audit.LoadKey(path, false); err != nil {
			return err
		}
	}
	svc := audit.New(db, clock.Real{}, signing)
	var cp *audit.Checkpoint
	if svc.CanSign() {
		cp, err = svc.SignHead(ctx) // the newest head, signed now if the server has not yet
	} else {
		cp, err = svc.LatestCheckpoint(ctx)
	}
	if err != nil {
		return err
	}
	if cp == nil {
		return errors.New("no checkpoint yet (the audit trail is empty, or no signing key is configured)")
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(cp)
}

// auditKeyPath is where the signing key lives: BEHALF_AUDIT_KEY_FILE, else for an embedded SQLite
// database behalf-audit.key beside the database file, else (PostgreSQL) none.
func auditKeyPath(cfg config.Config) string {
	if cfg.AuditKeyFile != "" {
		return cfg.AuditKeyFile
	}
	dialect, path, err := store.ParseDSN(cfg.DB)
	if err != nil || dialect != store.SQLite {
		return ""
	}
	path, _, _ = strings.Cut(path, "?")
	return filepath.Join(filepath.Dir(path), "behalf-audit.key")
}

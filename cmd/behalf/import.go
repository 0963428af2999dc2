package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"behalf/directory"
	"behalf/internal/clock"
)

// importContacts is `behalf import contacts --file PATH.csv [--db DSN]`: it streams the file into the
// directory, prints every refused line and the counts, and fails (exit 1) if any line was refused.
func importContacts(args []string, env func(string) string, stdout, stderr io.Writer) error {
	fs, dsn := dbFlags("behalf import contacts", stderr)
	file := fs.String("file", "", "CSV file with the header "+fmt.Sprint(directory.ImportColumns)+` ("-" for standard input)`)
	batches := fs.Bool("batches", false, "commit every batch of 10,000 contacts on its own even into an empty directory (PostgreSQL: no table lock, slower)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *file == "" {
		return errors.New("--file is required")
	}
	in := io.Reader(os.Stdin)
	if *file != "-" {
		f, err := os.Open(*file)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	_, _, db, err := openCommandDB(*dsn, env, stderr)
	if err != nil {
		return err
	}
	// The import's live heap is a few batches (tens of MB, whatever the file's size): collecting
	// at 5× it rather than 2× spends less CPU on garbage collection and stays bounded.
	defer tuneGC(env)()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	start := time.Now()
	res, err := directory.New(db, clock.Real{}).ImportContactsWith(ctx, bufio.NewReaderSize(in, 1<<16), directory.ImportOptions{Batches: *batches}, func(e directory.LineError) {
		fmt.Fprintf(out, "line %d: %s\n", e.Line, e.Message)
	})
	took := time.Since(start)
	mode := "in batches"
	if res.Bulk {
		mode = "in one transaction"
	}
	fmt.Fprintf(out, "imported %d contacts (%d organizations created), refused %d lines, in %s (%.0f contacts/s, %s)\n",
		res.Imported, res.OrganizationsCreated, res.Refused, took.Round(time.Millisecond), float64(res.Imported)/took.Seconds(), mode)
	if err != nil {
		return err
	}
	if res.Refused > 0 {
		return fmt.Errorf("%d lines refused", res.Refused)
	}
	return nil
}

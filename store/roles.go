package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"gorm.io/gorm"
)

// AppendOnlyTables are written only by INSERT: the application role may INSERT and SELECT them and
// nothing else, and on PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE even to their owner
// (short of disabling the trigger).
var AppendOnlyTables = []string{"audit_events", "audit_checkpoints"}

var roleRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// GrantAppRole gives role exactly what `behalf serve` needs on PostgreSQL, run by the owner after the
// migrations (`behalf migrate --app-role ROLE`): use of the schema; SELECT, INSERT, UPDATE and DELETE
// on every table of the schema except the append-only ones, which get INSERT and SELECT only; SELECT
// on goose's version table (serve checks that no migration is pending); and use of the schema's
// sequences; EXECUTE on audit_append. Earlier grants to role on these tables are revoked first, so running it again converges.
// Nothing else: no TRUNCATE, REFERENCES or TRIGGER, no DDL.
func GrantAppRole(ctx context.Context, db *gorm.DB, role string) error {
	if Dialect(db) != Postgres {
		return errors.New("--app-role applies to PostgreSQL only (SQLite has no roles)")
	}
	if !roleRe.MatchString(role) {
		return fmt.Errorf("role %q: use letters, digits and _ only", role)
	}
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var schema string
		if err := tx.Raw("SELECT current_schema()").Scan(&schema).Error; err != nil {
			return fmt.Errorf("read current schema: %w", err)
		}
		var tables []string
		if err := tx.Raw(`SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename`).Scan(&tables).Error; err != nil {
			return fmt.Errorf("list tables: %w", err)
		}
		r, s := `"`+role+`"`, `"`+schema+`"`
		stmts := []string{"GRANT USAGE ON SCHEMA " + s + " TO " + r}
		appendOnly := map[string]bool{}
		for _, t := range AppendOnlyTables {
			appendOnly[t] = true
		}
		for _, t := range tables {
			q := s + `."` + t + `"`
			stmts = append(stmts, "REVOKE ALL ON TABLE "+q+" FROM "+r)
			switch {
			case appendOnly[t]:
				stmts = append(stmts, "GRANT SELECT, INSERT ON TABLE "+q+" TO "+r)
			case t == "goose_db_version":
				stmts = append(stmts, "GRANT SELECT ON TABLE "+q+" TO "+r)
			default:
				stmts = append(stmts, "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "+q+" TO "+r)
			}
		}
		stmts = append(stmts, "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "+s+" TO "+r)
		// audit.Service appends through audit_append (migration 00085), which runs with the caller's
		// rights: granted by name, so serve still works where EXECUTE is revoked from PUBLIC.
		stmts = append(stmts, "GRANT EXECUTE ON FUNCTION "+s+".audit_append TO "+r)
		for _, q := range stmts {
			if err := tx.Exec(q).Error; err != nil {
				return fmt.Errorf("grant %s: %s: %w", role, q, err)
			}
		}
		return nil
	})
}

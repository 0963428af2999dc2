package store

import (
	"context"
	"errors"
	"reflect"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

// Stamp says who writes: Login is the person really acting (the staff member in a login-on-behalf
// session), OperatorID that staff member's id in a login-on-behalf session (nil otherwise), SubjectID
// the account the data belongs to (the customer). The security package attaches it to the context
// together with the identity; the GORM callback below copies it onto every stamped row, so domain
// code never sets these columns by hand.
type Stamp struct {
	Login      string
	OperatorID *string
	SubjectID  string
}

type stampKey struct{}

// WithStamp returns a context whose writes are stamped with s.
func WithStamp(ctx context.Context, s Stamp) context.Context {
	return context.WithValue(ctx, stampKey{}, s)
}

// StampFrom returns the context's stamp, if any.
func StampFrom(ctx context.Context) (Stamp, bool) {
	s, ok := ctx.Value(stampKey{}).(Stamp)
	return s, ok && s.Login != ""
}

// The columns a stamped table has (model.Stamp); customer_id is filled on insert when left empty.
const (
	colCreatedBy  = "created_by"
	colModifiedBy = "modified_by"
	colOperatorID = "operator_id"
	colCustomerID = "customer_id"
)

// ErrNoStamp refuses a write to a stamped table from a context without a stamp: every stamped row
// must say who wrote it.
var ErrNoStamp = errors.New("store: write to a stamped table without a stamp in the context")

func isStamped(s *schema.Schema) bool {
	if s == nil {
		return false
	}
	_, c := s.FieldsByDBName[colCreatedBy]
	_, m := s.FieldsByDBName[colModifiedBy]
	_, o := s.FieldsByDBName[colOperatorID]
	return c && m && o
}

// registerStamping installs the stamping callbacks on db (store.Open does it for every handle).
func registerStamping(db *gorm.DB) error {
	if err := db.Callback().Create().Before("gorm:create").Register("behalf:stamp_create", stampCreate); err != nil {
		return err
	}
	return db.Callback().Update().Before("gorm:update").Register("behalf:stamp_update", stampUpdate)
}

// stampFor returns the stamp for a write to a stamped table; ok is false when the table is not
// stamped, or when the context has no stamp (then the write fails with ErrNoStamp).
func stampFor(db *gorm.DB) (Stamp, bool) {
	if !isStamped(db.Statement.Schema) {
		return Stamp{}, false
	}
	s, ok := StampFrom(db.Statement.Context)
	if !ok {
		_ = db.AddError(ErrNoStamp)
	}
	return s, ok
}

// stampCreate fills created_by, modified_by and operator_id (and an empty customer_id) on insert.
func stampCreate(db *gorm.DB) {
	stmt := db.Statement
	s, ok := stampFor(db)
	if !ok {
		return
	}
	stmt.SetColumn(colCreatedBy, s.Login, true)
	stmt.SetColumn(colModifiedBy, s.Login, true)
	stmt.SetColumn(colOperatorID, s.OperatorID, true)
	if f := stmt.Schema.FieldsByDBName[colCustomerID]; f != nil && s.SubjectID != "" {
		fillEmpty(stmt.Context, f, stmt.ReflectValue, s.SubjectID)
	}
}

func fillEmpty(ctx context.Context, f *schema.Field, rv reflect.Value, v string) {
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		for i := 0; i < rv.Len(); i++ {
			fillEmpty(ctx, f, reflect.Indirect(rv.Index(i)), v)
		}
	case reflect.Struct:
		if _, zero := f.ValueOf(ctx, rv); zero {
			_ = f.Set(ctx, rv, v)
		}
	}
}

// stampUpdate sets modified_by and operator_id on update, however the update is written: a map
// (Updates(map), Update(col, v), UpdateColumn), Save (all columns), or Updates(struct). The last one
// writes only non-zero fields, and a nil operator (an ordinary session clearing a previous operator)
// is zero, so the callback selects the struct's non-zero fields plus the stamp columns explicitly.
func stampUpdate(db *gorm.DB) {
	stmt := db.Statement
	s, ok := stampFor(db)
	if !ok {
		return
	}
	if m, ok := stmt.Dest.(map[string]any); ok {
		m[colModifiedBy] = s.Login
		m[colOperatorID] = s.OperatorID
		return
	}
	var selects []string
	if len(stmt.Selects) == 0 && len(stmt.Omits) == 0 {
		dv := reflect.Indirect(reflect.ValueOf(stmt.Dest))
		if dv.Kind() == reflect.Struct && dv.Type() == stmt.Schema.ModelType {
			for _, f := range stmt.Schema.Fields {
				if f.DBName == "" || f.PrimaryKey || !f.Updatable {
					continue
				}
				if _, zero := f.ValueOf(stmt.Context, dv); !zero {
					selects = append(selects, f.DBName)
				}
			}
		}
	}
	stmt.SetColumn(colModifiedBy, s.Login, true)
	stmt.SetColumn(colOperatorID, s.OperatorID, true)
	switch {
	case selects != nil:
		stmt.Selects = append(selects, colModifiedBy, colOperatorID)
	case len(stmt.Selects) > 0 && !contains(stmt.Selects, "*"):
		stmt.Selects = append(stmt.Selects, colModifiedBy, colOperatorID)
	}
}

func contains(xs []string, x string) bool {
	for _, s := range xs {
		if s == x {
			return true
		}
	}
	return false
}

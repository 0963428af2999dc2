package store

import (
	"os"
	"path/filepath"
	"testing"
)

// A path with the characters that end or change a "file:" URI ('#' comes from subtest names such as
// "sqlite#01", which t.TempDir keeps) must open that very file.
func TestOpenSQLitePathWithURICharacters(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "a#b?c%d", "x.db")
	db, err := Open("sqlite:"+path, Options{MaxOpenConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Exec("CREATE TABLE marker (id INTEGER)").Error; err != nil {
		t.Fatal(err)
	}
	if err := sqlDB.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Fatalf("database file %s not written where asked: %v", path, err)
	}
}

package directory_test

import (
	"sync"
	"testing"

	"behalf/directory"
	"behalf/internal/apptest"
	"behalf/internal/dbtest"

	"gorm.io/gorm"
)

// TestEnsureSearchIndexConcurrent: replicas starting together each run EnsureSearchIndex over a
// directory whose index is empty; every contact ends up indexed exactly once and no call fails (a
// duplicate key used to kill one of them).
func TestEnsureSearchIndexConcurrent(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		ctx := staffCtx(env)
		dir := env.App.Directory
		for _, n := range []string{"Anna", "Bert", "Carla"} {
			if _, err := dir.CreateContact(ctx, directory.CreateContactInput{FirstName: n, LastName: "Schmidt", Email: n + "@x.example"}); err != nil {
				t.Fatal(err)
			}
		}
		var want int64
		if err := db.Model(&directory.SearchToken{}).Count(&want).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Exec("DELETE FROM contact_search_tokens").Error; err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 4)
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- dir.EnsureSearchIndex(ctx)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("EnsureSearchIndex: %v", err)
			}
		}
		var got int64
		if err := db.Model(&directory.SearchToken{}).Count(&got).Error; err != nil {
			t.Fatal(err)
		}
		if want == 0 || got != want {
			t.Errorf("index rows after 4 concurrent EnsureSearchIndex = %d, want %d", got, want)
		}
	})
}

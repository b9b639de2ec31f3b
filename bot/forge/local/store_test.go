package local_test

import (
	"path/filepath"
	"testing"

	"github.com/medic-bot/medic/bot/forge/forgetest"
	"github.com/medic-bot/medic/bot/store"
)

// TestContractSQLiteStore runs the contract with medic's SQLite store
// keeping the records, as medic demo does.
func TestContractSQLiteStore(t *testing.T) {
	forgetest.Run(t, func(t *testing.T) forgetest.Harness {
		st, err := store.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "medic.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return newHarness(t, newCheckout(t), st)
	})
}

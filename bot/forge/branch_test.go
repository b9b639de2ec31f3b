package forge

import (
	"testing"

	"github.com/medic-bot/medic/patchers"
)

// TestParseBranchEveryKind: the branch of every kind of the catalogue
// parses back to its incident and kind, also when the incident id itself
// ends like a kind.
func TestParseBranchEveryKind(t *testing.T) {
	for _, k := range patchers.KindNames() {
		for _, id := range []string{"inc-1", "inc-20261125-checkout-scale", "a-set-env"} {
			gotID, gotKind, ok := ParseBranch(BranchName(id, k))
			if !ok || gotID != id || gotKind != k {
				t.Errorf("ParseBranch(BranchName(%q, %q)) = %q, %q, %v", id, k, gotID, gotKind, ok)
			}
		}
	}
	for _, b := range []string{"medic/inc-1-delete-namespace", "medic/-scale", "feature/inc-1-scale", "medic/inc-1"} {
		if id, k, ok := ParseBranch(b); ok {
			t.Errorf("ParseBranch(%q) = %q, %q: want not a medic branch", b, id, k)
		}
	}
}

package history

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/helm"
	"github.com/medic-bot/medic/patchers/kustomize"
	"github.com/medic-bot/medic/patchers/manifest"
)

// TestPreviousBeforeFolderOrFiles: the history walk reaching commits from
// before the repo folder (WrapDir) or the target's files existed means
// "no previous image", not a read error and not a failed verification.
func TestPreviousBeforeFolderOrFiles(t *testing.T) {
	prev := patchers.RollbackImageParams{Previous: true}
	check := func(t *testing.T, err error, want string) {
		t.Helper()
		if !errors.Is(err, ErrNoPrevious) || !errors.Is(err, patchers.ErrRefused) {
			t.Fatalf("err = %v, want ErrNoPrevious", err)
		}
		msg := err.Error()
		if !strings.Contains(msg, "no previous image") || strings.Contains(msg, "verification") || strings.Contains(msg, "open .") || !strings.Contains(msg, want) {
			t.Fatalf("err = %q, want %q and no previous image", msg, want)
		}
	}
	t.Run("folder added later", func(t *testing.T) {
		r := newRepo(t)
		r.write("README.md", "top\n")
		first := r.commit("start")
		sub := filepath.Join(r.dir, "infra")
		if err := os.CopyFS(sub, os.DirFS(filepath.Join("..", "..", "fixtures", "repos", "manifests"))); err != nil {
			t.Fatal(err)
		}
		r.commit("import infra")
		r.replace("infra/"+checkout, "replicas: 3", "replicas: 4")
		r.commit("checkout 4 replicas")
		_, err := WrapDir(manifest.New(), r.repo, "infra").Plan(t.Context(), os.DirFS(sub), intent(t, patchers.KindRollbackImage, prev))
		check(t, err, "infra does not exist at "+short(first))
	})
	for _, tc := range []struct {
		layout string
		p      patchers.Patcher
		ns     string
	}{
		{"manifests", manifest.New(), "shop"},
		{"kustomize", kustomize.New(), "shop"},
		{"helm", helm.New(), "shop-staging"},
	} {
		t.Run("files added later/"+tc.layout, func(t *testing.T) {
			r := newRepo(t)
			r.write("docs/NOTES.md", "notes\n")
			first := r.commit("start")
			r.copyFixture(tc.layout)
			r.commit("import")
			in := intent(t, patchers.KindRollbackImage, prev)
			in.Target.Namespace = tc.ns
			_, err := Wrap(tc.p, r.repo).Plan(t.Context(), os.DirFS(r.dir), in)
			check(t, err, "absent at "+short(first))
		})
	}
}

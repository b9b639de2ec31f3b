package history

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/helm"
	"github.com/medic-bot/medic/patchers/kustomize"
	"github.com/medic-bot/medic/patchers/manifest"
	"github.com/medic-bot/medic/patchers/render"
)

// renderer gives the manifest patcher a RenderTarget: the whole repo's
// manifests.
type renderer struct{ patchers.Patcher }

func (renderer) RenderTarget(_ context.Context, repo fs.FS, _ patchers.Target) (string, []byte, error) {
	m, err := render.Manifests(repo, ".")
	return ".", m, err
}

// testRepo is a git repository in a temporary folder.
type testRepo struct {
	t    *testing.T
	dir  string
	repo *git.Repository
	when time.Time
}

func newRepo(t *testing.T) *testRepo {
	t.Helper()
	dir := t.TempDir()
	r, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	return &testRepo{t: t, dir: dir, repo: r, when: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// copyFixture copies fixtures/repos/<name> into the repo's folder.
func (r *testRepo) copyFixture(name string) {
	r.t.Helper()
	src := filepath.Join("..", "..", "fixtures", "repos", name)
	err := os.CopyFS(r.dir, os.DirFS(src))
	if err != nil {
		r.t.Fatal(err)
	}
}

func (r *testRepo) write(name, content string) {
	r.t.Helper()
	p := filepath.Join(r.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *testRepo) read(name string) string {
	r.t.Helper()
	b, err := os.ReadFile(filepath.Join(r.dir, filepath.FromSlash(name)))
	if err != nil {
		r.t.Fatal(err)
	}
	return string(b)
}

// replace replaces old by new in a file of the repo; old must be there.
func (r *testRepo) replace(name, old, new string) {
	r.t.Helper()
	s := r.read(name)
	if !strings.Contains(s, old) {
		r.t.Fatalf("%s does not hold %q", name, old)
	}
	r.write(name, strings.Replace(s, old, new, 1))
}

// commit stages everything and commits it.
func (r *testRepo) commit(msg string, parents ...plumbing.Hash) plumbing.Hash {
	r.t.Helper()
	wt, err := r.repo.Worktree()
	if err != nil {
		r.t.Fatal(err)
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		r.t.Fatal(err)
	}
	r.when = r.when.Add(time.Minute)
	h, err := wt.Commit(msg, &git.CommitOptions{
		Author:            &object.Signature{Name: "t", Email: "t@example.com", When: r.when},
		Parents:           parents,
		AllowEmptyCommits: true,
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return h
}

const checkout = "shop/checkout.yaml"

// history is the repo most tests use: the manifests fixture, then the
// checkout image at v1 and v2, and a resources change.
type history struct {
	*testRepo
	root, v1, v2, res plumbing.Hash
}

func newHistory(t *testing.T) history {
	r := newRepo(t)
	r.copyFixture("manifests")
	h := history{testRepo: r}
	h.root = r.commit("import manifests")
	r.replace(checkout, "checkout:1.14.2", "checkout:1.15.0")
	h.v1 = r.commit("checkout 1.15.0")
	r.replace(checkout, "checkout:1.15.0", "checkout:1.16.0")
	h.v2 = r.commit("checkout 1.16.0\n\nbody text")
	r.replace(checkout, "memory: 512Mi # raised after INC-231", "memory: 1Gi")
	h.res = r.commit("checkout: more memory")
	return h
}

func (h history) patcher() patchers.Patcher {
	return Wrap(renderer{manifest.New()}, h.repo)
}

func intent(t *testing.T, kind string, params any) patchers.Intent {
	t.Helper()
	b, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	return patchers.Intent{Kind: kind, Target: patchers.Target{Namespace: "shop", Kind: "Deployment", Name: "checkout", Container: "app"}, Params: b}
}

func revertIntent(t *testing.T, c string) patchers.Intent {
	return intent(t, patchers.KindRevertCommit, patchers.RevertCommitParams{Commit: c})
}

func TestRollbackPrevious(t *testing.T) {
	h := newHistory(t)
	ch, err := h.patcher().Plan(t.Context(), os.DirFS(h.dir), intent(t, patchers.KindRollbackImage, patchers.RollbackImageParams{Previous: true}))
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Files) != 1 || ch.Files[0].Path != checkout {
		t.Fatalf("files = %+v, want %s", ch.Files, checkout)
	}
	if !strings.Contains(string(ch.Files[0].Content), "image: ghcr.io/acme/checkout:1.15.0") {
		t.Errorf("content does not set 1.15.0:\n%s", ch.Files[0].Content)
	}
	if want := short(h.v2) + ` "checkout 1.16.0"`; !strings.Contains(ch.Summary, want) {
		t.Errorf("summary %q does not name %s", ch.Summary, want)
	}
}

func TestRollbackPreviousErrors(t *testing.T) {
	prev := patchers.RollbackImageParams{Previous: true}
	t.Run("never changed", func(t *testing.T) {
		r := newRepo(t)
		r.copyFixture("manifests")
		r.commit("import")
		r.replace(checkout, "memory: 512Mi # raised after INC-231", "memory: 1Gi")
		r.commit("memory")
		_, err := Wrap(renderer{manifest.New()}, r.repo).Plan(t.Context(), os.DirFS(r.dir), intent(t, patchers.KindRollbackImage, prev))
		if !errors.Is(err, patchers.ErrRefused) || !strings.Contains(err.Error(), "every commit back to the first") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("bounded", func(t *testing.T) {
		h := newHistory(t)
		w := h.patcher().(*wrapped)
		w.max = 2
		_, err := w.Plan(t.Context(), os.DirFS(h.dir), intent(t, patchers.KindRollbackImage, prev))
		if !errors.Is(err, patchers.ErrRefused) || !strings.Contains(err.Error(), "last 2 commits") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("target added", func(t *testing.T) {
		r := newRepo(t)
		r.write("other.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")
		r.commit("start")
		r.copyFixture("manifests")
		r.commit("import")
		_, err := Wrap(renderer{manifest.New()}, r.repo).Plan(t.Context(), os.DirFS(r.dir), intent(t, patchers.KindRollbackImage, prev))
		if !errors.Is(err, patchers.ErrRefused) || !strings.Contains(err.Error(), "is absent at") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no history", func(t *testing.T) {
		r := newRepo(t)
		r.copyFixture("manifests")
		_, err := Wrap(renderer{manifest.New()}, r.repo).Plan(t.Context(), os.DirFS(r.dir), intent(t, patchers.KindRollbackImage, prev))
		if err == nil || !strings.Contains(err.Error(), "no history") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("not a renderer", func(t *testing.T) {
		h := newHistory(t)
		// Embedding only the interface hides any RenderTarget.
		_, err := Wrap(struct{ patchers.Patcher }{manifest.New()}, h.repo).Plan(t.Context(), os.DirFS(h.dir), intent(t, patchers.KindRollbackImage, prev))
		if !errors.Is(err, patchers.ErrNotSupported) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestOtherIntentsPassThrough(t *testing.T) {
	h := newHistory(t)
	ch, err := h.patcher().Plan(t.Context(), os.DirFS(h.dir), intent(t, patchers.KindRollbackImage, patchers.RollbackImageParams{Image: "ghcr.io/acme/checkout:1.0.0"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Files) != 1 || !strings.Contains(string(ch.Files[0].Content), "checkout:1.0.0") {
		t.Fatalf("change = %+v", ch)
	}
	if p := h.patcher(); p.Name() != "manifest" || !p.Detect(os.DirFS(h.dir)) {
		t.Errorf("Name/Detect are not the inner patcher's")
	}
}

func TestRevertResources(t *testing.T) {
	h := newHistory(t)
	ch, err := h.patcher().Plan(t.Context(), os.DirFS(h.dir), revertIntent(t, short(h.res)))
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Files) != 1 || ch.Files[0].Path != checkout || ch.Files[0].Deleted {
		t.Fatalf("files = %+v", ch.Files)
	}
	if !strings.Contains(string(ch.Files[0].Content), "memory: 512Mi # raised after INC-231") {
		t.Errorf("content:\n%s", ch.Files[0].Content)
	}
	if !strings.Contains(ch.Files[0].Diff, "-              memory: 1Gi") {
		t.Errorf("diff:\n%s", ch.Files[0].Diff)
	}
	if !strings.HasPrefix(ch.Summary, "revert "+short(h.res)+" checkout: more memory: ") {
		t.Errorf("summary = %q", ch.Summary)
	}
	if len(ch.ChangedObjects) != 1 || ch.ChangedObjects[0].Name != "checkout" {
		t.Errorf("changed objects = %+v", ch.ChangedObjects)
	}
	if !strings.Contains(ch.RenderedDiff, "+              memory: 512Mi") && !strings.Contains(ch.RenderedDiff, "512Mi") {
		t.Errorf("rendered diff:\n%s", ch.RenderedDiff)
	}
}

func TestRevertAppliesHunksOnLaterEdits(t *testing.T) {
	h := newHistory(t)
	// A later commit edits another part of the same file: the revert
	// applies its hunk by context.
	h.replace(checkout, "value: info", "value: debug")
	h.commit("debug logs")
	ch, err := h.patcher().Plan(t.Context(), os.DirFS(h.dir), revertIntent(t, h.res.String()))
	if err != nil {
		t.Fatal(err)
	}
	got := string(ch.Files[0].Content)
	if !strings.Contains(got, "memory: 512Mi # raised after INC-231") || !strings.Contains(got, "value: debug") {
		t.Errorf("content:\n%s", got)
	}
}

func TestRevertConflict(t *testing.T) {
	h := newHistory(t)
	h.replace(checkout, "memory: 1Gi", "memory: 2Gi")
	h.commit("even more memory")
	_, err := h.patcher().Plan(t.Context(), os.DirFS(h.dir), revertIntent(t, short(h.res)))
	if !errors.Is(err, patchers.ErrRefused) || !strings.Contains(err.Error(), "conflict in "+checkout) || !strings.Contains(err.Error(), "@@ ") {
		t.Fatalf("err = %v", err)
	}
}

func TestRevertAddedFile(t *testing.T) {
	h := newHistory(t)
	const added = "shop/checkout-pdb.yaml"
	h.write(added, "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: checkout\n  namespace: shop\nspec:\n  minAvailable: 1\n")
	h.replace(checkout, "replicas: 3", "replicas: 4")
	c := h.commit("checkout: pdb and 4 replicas")
	ch, err := h.patcher().Plan(t.Context(), os.DirFS(h.dir), revertIntent(t, short(c)))
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Files) != 2 || ch.Files[0].Path != added || !ch.Files[0].Deleted || ch.Files[0].Content != nil {
		t.Fatalf("files = %+v", ch.Files)
	}
	if !strings.Contains(ch.Files[0].Diff, "+++ /dev/null") {
		t.Errorf("diff:\n%s", ch.Files[0].Diff)
	}
	if len(ch.ChangedObjects) != 2 {
		t.Errorf("changed objects = %+v", ch.ChangedObjects)
	}
}

func TestRevertDeletedFileRecreates(t *testing.T) {
	h := newHistory(t)
	if err := os.Remove(filepath.Join(h.dir, "shop", "checkout.yaml")); err != nil {
		t.Fatal(err)
	}
	c := h.commit("drop checkout")
	ch, err := h.patcher().Plan(t.Context(), os.DirFS(h.dir), revertIntent(t, short(c)))
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Files) != 1 || ch.Files[0].Path != checkout || ch.Files[0].Deleted || !strings.HasPrefix(ch.Files[0].Diff, "--- /dev/null") {
		t.Fatalf("files = %+v", ch.Files)
	}
}

func TestRevertNoOpAndUntouched(t *testing.T) {
	h := newHistory(t)
	h.replace(checkout, "memory: 1Gi", "memory: 512Mi # raised after INC-231")
	h.commit("undo by hand")
	ch, err := h.patcher().Plan(t.Context(), os.DirFS(h.dir), revertIntent(t, short(h.res)))
	if err != nil || !ch.NoOp {
		t.Fatalf("change = %+v, err = %v; want no-op", ch, err)
	}

	h.replace("shop/frontend.yaml", "frontend", "frontend2")
	c := h.commit("frontend")
	_, err = h.patcher().Plan(t.Context(), os.DirFS(h.dir), revertIntent(t, short(c)))
	if !errors.Is(err, patchers.ErrRefused) || !strings.Contains(err.Error(), "does not change") {
		t.Fatalf("err = %v", err)
	}
}

func TestRevertBadCommits(t *testing.T) {
	h := newHistory(t)
	merge := h.commit("merge", h.res, h.v1)
	for _, tc := range []struct {
		name, commit, want string
	}{
		{"unknown", "deadbeef", "commit deadbeef not found"},
		{"unknown full", strings.Repeat("a", 40), "commit " + strings.Repeat("a", 40)},
		{"merge", short(merge), "is a merge commit"},
		{"root", h.root.String(), "first commit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.patcher().Plan(t.Context(), os.DirFS(h.dir), revertIntent(t, tc.commit))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestTreeFS(t *testing.T) {
	h := newHistory(t)
	c, err := h.repo.CommitObject(h.res)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := c.Tree()
	if err != nil {
		t.Fatal(err)
	}
	fsys := TreeFS(tree)
	if err := fstest.TestFS(fsys, "README.md", "namespaces.yaml", "shop/checkout.yaml", "payments/ledger.yml", "monitoring/node-agent.yaml"); err != nil {
		t.Fatal(err)
	}
	b, err := fs.ReadFile(fsys, checkout)
	if err != nil || string(b) != h.read(checkout) {
		t.Errorf("ReadFile(%s) = %v, differs from the working tree", checkout, err)
	}
	if _, err := fs.Stat(fsys, "nope/x.yaml"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(nope/x.yaml) = %v", err)
	}
}

func TestParseHunksNoNewline(t *testing.T) {
	for _, c := range []struct{ old, neu string }{
		{"a\nb\nc", "a\nB\nc"},
		{"a\nb\n", "a\nb"},
		{"a\nb", "a\nb\nc\n"},
	} {
		got, err := reverseHunks("f", []byte(c.old), []byte(c.neu), []byte(c.neu))
		if err != nil || string(got) != c.old {
			t.Errorf("%q -> %q: got %q, %v", c.old, c.neu, got, err)
		}
	}
}

// TestRealRenderers runs both intents through the patchers' own
// RenderTarget: the manifest patcher on the manifests fixture, and the
// kustomize patcher on the prod overlay of the kustomize fixture.
func TestRealRenderers(t *testing.T) {
	t.Run("manifest", func(t *testing.T) {
		h := newHistory(t)
		p := Wrap(manifest.New(), h.repo)
		ch, err := p.Plan(t.Context(), os.DirFS(h.dir), intent(t, patchers.KindRollbackImage, patchers.RollbackImageParams{Previous: true}))
		if err != nil {
			t.Fatal(err)
		}
		if len(ch.Files) != 1 || !strings.Contains(string(ch.Files[0].Content), "checkout:1.15.0") {
			t.Fatalf("change = %+v", ch)
		}
		ch, err = p.Plan(t.Context(), os.DirFS(h.dir), revertIntent(t, short(h.res)))
		if err != nil {
			t.Fatal(err)
		}
		if len(ch.Files) != 1 || !strings.Contains(string(ch.Files[0].Content), "memory: 512Mi # raised after INC-231") {
			t.Fatalf("change = %+v", ch)
		}
	})
	t.Run("kustomize", func(t *testing.T) {
		r := newRepo(t)
		r.copyFixture("kustomize")
		r.commit("import")
		const prod, staging = "overlays/prod/kustomization.yaml", "overlays/staging/kustomization.yaml"
		r.replace(prod, "newTag: 1.4.2", "newTag: 1.4.3")
		bump := r.commit("prod: checkout 1.4.3")
		r.replace(staging, "newTag: 1.5.0-rc.1", "newTag: 1.5.0-rc.2")
		r.commit("staging: checkout rc.2")
		p := Wrap(kustomize.New(), r.repo)
		in := intent(t, patchers.KindRollbackImage, patchers.RollbackImageParams{Previous: true})
		ch, err := p.Plan(t.Context(), os.DirFS(r.dir), in)
		if err != nil {
			t.Fatal(err)
		}
		if len(ch.Files) != 1 || ch.Files[0].Path != prod || !strings.Contains(string(ch.Files[0].Content), "newTag: 1.4.2") {
			t.Fatalf("change = %+v", ch)
		}
		if !strings.Contains(ch.Summary, short(bump)) {
			t.Errorf("summary %q does not name %s", ch.Summary, short(bump))
		}
		ch, err = p.Plan(t.Context(), os.DirFS(r.dir), revertIntent(t, short(bump)))
		if err != nil {
			t.Fatal(err)
		}
		if len(ch.Files) != 1 || ch.Files[0].Path != prod || !strings.Contains(string(ch.Files[0].Content), "newTag: 1.4.2") {
			t.Fatalf("change = %+v", ch)
		}
		if !strings.Contains(ch.RenderedDiff, "+        image: registry.example.com/shop/checkout:1.4.2") {
			t.Errorf("rendered diff:\n%s", ch.RenderedDiff)
		}
	})
}

// TestHelmPrevious: rollback_image previous through the helm patcher's
// RenderTarget, on the staging values of the helm fixture.
func TestHelmPrevious(t *testing.T) {
	r := newRepo(t)
	r.copyFixture("helm")
	r.commit("import")
	const staging = "environments/staging/values.yaml"
	r.replace(staging, `tag: "1.9.0-rc.1"`, `tag: "1.9.0-rc.2"`)
	bump := r.commit("staging: checkout rc.2")
	in := intent(t, patchers.KindRollbackImage, patchers.RollbackImageParams{Previous: true})
	in.Target.Namespace = "shop-staging"
	ch, err := Wrap(helm.New(), r.repo).Plan(t.Context(), os.DirFS(r.dir), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Files) != 1 || ch.Files[0].Path != staging || !strings.Contains(string(ch.Files[0].Content), "1.9.0-rc.1") {
		t.Fatalf("change = %+v", ch)
	}
	if !strings.Contains(ch.Summary, short(bump)) {
		t.Errorf("summary %q does not name %s", ch.Summary, short(bump))
	}
}

// TestRevertRemovingTarget: a commit that added the target's file is not
// reverted: the workload would go.
func TestRevertRemovingTarget(t *testing.T) {
	r := newRepo(t)
	r.write("other.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: shop\n")
	r.commit("start")
	r.copyFixture("manifests")
	c := r.commit("import")
	_, err := Wrap(manifest.New(), r.repo).Plan(t.Context(), os.DirFS(r.dir), revertIntent(t, short(c)))
	if !errors.Is(err, patchers.ErrRefused) || !strings.Contains(err.Error(), "removes shop/Deployment/checkout[app] altogether") {
		t.Fatalf("err = %v", err)
	}
}

// TestWrapDir: the Plan repo is a folder of the git repository.
func TestWrapDir(t *testing.T) {
	r := newRepo(t)
	sub := filepath.Join(r.dir, "infra")
	if err := os.CopyFS(sub, os.DirFS(filepath.Join("..", "..", "fixtures", "repos", "manifests"))); err != nil {
		t.Fatal(err)
	}
	r.write("README.md", "top\n")
	r.commit("import")
	r.replace("infra/"+checkout, "replicas: 3", "replicas: 6")
	r.write("README.md", "top, edited\n")
	c := r.commit("checkout 6 replicas")
	p := WrapDir(manifest.New(), r.repo, "infra")
	ch, err := p.Plan(t.Context(), os.DirFS(sub), revertIntent(t, short(c)))
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Files) != 1 || ch.Files[0].Path != checkout || !strings.Contains(string(ch.Files[0].Content), "replicas: 3") {
		t.Fatalf("files = %+v", ch.Files)
	}
	r.write("README.md", "only outside\n")
	c = r.commit("outside only")
	if _, err := p.Plan(t.Context(), os.DirFS(sub), revertIntent(t, short(c))); err == nil || !strings.Contains(err.Error(), "changed nothing under infra") {
		t.Fatalf("err = %v", err)
	}
}

func TestPickAmbiguous(t *testing.T) {
	a := &object.Commit{Hash: plumbing.NewHash("abcdef1" + strings.Repeat("0", 33))}
	b := &object.Commit{Hash: plumbing.NewHash("abcdef1" + strings.Repeat("1", 33))}
	_, err := pick("abcdef1", []*object.Commit{b, a})
	if err == nil || !strings.Contains(err.Error(), "commit abcdef1 is ambiguous: it abbreviates "+a.Hash.String()+", "+b.Hash.String()) {
		t.Fatalf("err = %v", err)
	}
	if c, err := pick("abcdef1", []*object.Commit{a}); err != nil || c != a {
		t.Fatalf("pick one = %v, %v", c, err)
	}
}

// TestReverseHunksRandom: reversing a commit's hunks on its own result
// gives back the parent's content.
func TestReverseHunksRandom(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	lines := func(n int) string {
		var sb strings.Builder
		for range n {
			sb.WriteString(string(rune('a'+rnd.IntN(4))) + "\n")
		}
		return sb.String()
	}
	for i := range 500 {
		old := lines(rnd.IntN(30))
		if rnd.IntN(4) == 0 {
			old = strings.TrimSuffix(old, "\n")
		}
		ls := splitLines(old)
		for range 1 + rnd.IntN(3) {
			switch k := rnd.IntN(3); {
			case k == 0 || len(ls) == 0:
				j := rnd.IntN(len(ls) + 1)
				ls = slices.Insert(ls, j, lines(1+rnd.IntN(2)))
			case k == 1:
				j := rnd.IntN(len(ls))
				ls = slices.Delete(ls, j, j+1)
			default:
				ls[rnd.IntN(len(ls))] = "z\n"
			}
		}
		neu := []byte(strings.Join(ls, ""))
		got, err := reverseHunks("f", []byte(old), neu, neu)
		if err != nil {
			t.Fatalf("case %d: %v\nold %q\nnew %q", i, err, old, neu)
		}
		if string(got) != old {
			t.Fatalf("case %d:\nold %q\nnew %q\ngot  %q", i, old, neu, got)
		}
	}
}

// TestReverseHunksContext: hunks apply where their context is, moved by
// unrelated lines; a hunk anchored at the start or end of the file does
// not apply once lines were added there.
func TestReverseHunksContext(t *testing.T) {
	old := "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n"
	neu := strings.Replace(old, "e\n", "E\n", 1)
	got, err := reverseHunks("f", []byte(old), []byte(neu), []byte("0\n1\n"+neu+"k\n"))
	if err != nil || string(got) != "0\n1\n"+old+"k\n" {
		t.Fatalf("got %q, %v", got, err)
	}
	first := strings.Replace(old, "a\n", "A\n", 1)
	if _, err := reverseHunks("f", []byte(old), []byte(first), []byte("0\n"+first)); !errors.Is(err, patchers.ErrRefused) || !strings.Contains(err.Error(), "conflict in f: hunk @@ -1,4 +1,4 @@") {
		t.Errorf("anchored at the start: %v", err)
	}
	last := strings.Replace(old, "j\n", "J\n", 1)
	if _, err := reverseHunks("f", []byte(old), []byte(last), []byte(last+"k\n")); !errors.Is(err, patchers.ErrRefused) {
		t.Errorf("anchored at the end: %v", err)
	}
}

package local_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/medic-bot/medic/bot/forge"
	"github.com/medic-bot/medic/bot/forge/forgetest"
	"github.com/medic-bot/medic/bot/forge/local"
	"github.com/medic-bot/medic/patchers"
)

func TestContractCheckout(t *testing.T) {
	forgetest.Run(t, func(t *testing.T) forgetest.Harness {
		return newHarness(t, newCheckout(t), forgetest.NewMemoryRecords())
	})
}

func TestContractBare(t *testing.T) {
	forgetest.Run(t, func(t *testing.T) forgetest.Harness {
		return newHarness(t, newBare(t), forgetest.NewMemoryRecords())
	})
}

const resourcesPath = "overlays/prod/checkout-resources.yaml"

func readDisk(t *testing.T, dir, p string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeDisk(t *testing.T, dir, p, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(p)), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// raiseMemory is a request editing the fixture's prod overlay.
func raiseMemory(t *testing.T, h *harness, id, from, to string) forge.Request {
	t.Helper()
	old := readDisk(t, h.dirOrCheckout(t), resourcesPath)
	if !strings.Contains(old, from) {
		t.Fatalf("%s does not say %q", resourcesPath, from)
	}
	return forgetest.NewRequest(h, id, patchers.KindSetResources, map[string]string{resourcesPath: strings.Replace(old, from, to, 1)})
}

// dirOrCheckout is where the harness's files can be read from disk: the
// checkout, or the committed file of a bare repository.
func (h *harness) dirOrCheckout(t *testing.T) string {
	t.Helper()
	if git(t, h.dir, "rev-parse", "--is-bare-repository") == "false" {
		return h.dir
	}
	tmp := t.TempDir()
	c, _ := h.ReadFile(t, "main", resourcesPath)
	if err := os.MkdirAll(filepath.Join(tmp, filepath.Dir(resourcesPath)), 0o755); err != nil {
		t.Fatal(err)
	}
	writeDisk(t, tmp, resourcesPath, string(c))
	return tmp
}

func TestProposeLeavesCheckoutAlone(t *testing.T) {
	dir := newCheckout(t)
	h := newHarness(t, dir, forgetest.NewMemoryRecords())
	writeDisk(t, dir, "notes.txt", "untracked notes\n")
	indexBefore, err := os.ReadFile(filepath.Join(dir, ".git", "index"))
	if err != nil {
		t.Fatal(err)
	}
	statusBefore := git(t, dir, "status", "--porcelain")
	fileBefore := readDisk(t, dir, resourcesPath)

	pr, err := h.f.Propose(t.Context(), raiseMemory(t, h, "inc-1", "memory: 512Mi", "memory: 768Mi"))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := h.ReadFile(t, pr.Head, resourcesPath); !strings.Contains(string(got), "memory: 768Mi") {
		t.Errorf("the pull request's head has\n%s", got)
	}
	indexAfter, err := os.ReadFile(filepath.Join(dir, ".git", "index"))
	if err != nil {
		t.Fatal(err)
	}
	if string(indexBefore) != string(indexAfter) {
		t.Error("Propose rewrote the index")
	}
	if got := git(t, dir, "status", "--porcelain"); got != statusBefore {
		t.Errorf("git status after Propose:\n%s\nbefore:\n%s", got, statusBefore)
	}
	if got := readDisk(t, dir, resourcesPath); got != fileBefore {
		t.Error("Propose changed the working tree")
	}
	if got := git(t, dir, "symbolic-ref", "HEAD"); got != "refs/heads/main" {
		t.Errorf("HEAD is %s after Propose", got)
	}
}

func TestMergeUpdatesCleanCheckout(t *testing.T) {
	dir := newCheckout(t)
	h := newHarness(t, dir, forgetest.NewMemoryRecords())
	writeDisk(t, dir, "notes.txt", "untracked notes\n")
	writeDisk(t, dir, ".gitignore", "*.log\n")
	git(t, dir, "add", ".gitignore")
	git(t, dir, "commit", "-q", "-m", "ignore logs")
	writeDisk(t, dir, "debug.log", "ignored\n")

	r := raiseMemory(t, h, "inc-1", "memory: 512Mi", "memory: 768Mi")
	r.Change.Files = append(r.Change.Files, patchers.FileChange{Path: "base/db.yaml", Deleted: true},
		patchers.FileChange{Path: "base/cart.yaml", Deleted: true},
		patchers.FileChange{Path: "base/cart.yaml/README.md", Content: []byte("a file became a directory\n")},
		patchers.FileChange{Path: "overlays/prod/new/hpa-note.md", Content: []byte("new file\n")})
	pr, err := h.f.Propose(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	merged, err := h.f.Merge(t.Context(), pr)
	if err != nil {
		t.Fatal(err)
	}
	if got := git(t, dir, "rev-parse", "HEAD"); got != merged.MergeCommit {
		t.Errorf("HEAD is %s, want the merge commit %s", got, merged.MergeCommit)
	}
	if got := readDisk(t, dir, resourcesPath); !strings.Contains(got, "memory: 768Mi") {
		t.Errorf("the checkout's %s was not updated:\n%s", resourcesPath, got)
	}
	if _, err := os.Stat(filepath.Join(dir, "base", "db.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("base/db.yaml deleted by the merge is still in the checkout: %v", err)
	}
	if got := readDisk(t, dir, "base/cart.yaml/README.md"); got != "a file became a directory\n" {
		t.Errorf("file replaced by a directory: %q", got)
	}
	if got := readDisk(t, dir, "overlays/prod/new/hpa-note.md"); got != "new file\n" {
		t.Errorf("new file: %q", got)
	}
	if got := git(t, dir, "status", "--porcelain"); got != "?? notes.txt" {
		t.Errorf("git status after merging onto the checkout:\n%s\nwant only the untracked notes.txt", got)
	}
	if _, ok := gitOK(t, dir, nil, "diff-files", "--quiet"); !ok {
		t.Errorf("git diff-files sees changes: %s", git(t, dir, "diff-files", "--name-only"))
	}
	if readDisk(t, dir, "notes.txt") != "untracked notes\n" || readDisk(t, dir, "debug.log") != "ignored\n" {
		t.Error("the merge changed untracked or ignored files")
	}
}

func TestMergeRefusesDirtyCheckout(t *testing.T) {
	cases := []struct {
		name  string
		dirty func(t *testing.T, dir string)
	}{
		{"modified file the merge changes", func(t *testing.T, dir string) {
			writeDisk(t, dir, resourcesPath, readDisk(t, dir, resourcesPath)+"# local edit\n")
		}},
		{"staged file the merge changes", func(t *testing.T, dir string) {
			writeDisk(t, dir, resourcesPath, readDisk(t, dir, resourcesPath)+"# staged edit\n")
			git(t, dir, "add", resourcesPath)
		}},
		{"untracked file where the merge writes", func(t *testing.T, dir string) {
			writeDisk(t, dir, "overlays/prod/added.yaml", "mine\n")
		}},
		{"ignored file where the merge writes", func(t *testing.T, dir string) {
			writeDisk(t, dir, ".git/info/exclude", "added.yaml\n")
			writeDisk(t, dir, "overlays/prod/added.yaml", "mine\n")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := newCheckout(t)
			h := newHarness(t, dir, forgetest.NewMemoryRecords())
			r := raiseMemory(t, h, "inc-1", "memory: 512Mi", "memory: 768Mi")
			r.Change.Files = append(r.Change.Files, patchers.FileChange{Path: "overlays/prod/added.yaml", Content: []byte("medic's\n")})
			pr, err := h.f.Propose(t.Context(), r)
			if err != nil {
				t.Fatal(err)
			}
			c.dirty(t, dir)
			status := git(t, dir, "status", "--porcelain")
			head := git(t, dir, "rev-parse", "HEAD")

			_, err = h.f.Merge(t.Context(), pr)
			if !errors.Is(err, forge.ErrConflict) || !strings.Contains(err.Error(), "uncommitted") {
				t.Fatalf("Merge onto a dirty checkout: %v, want ErrConflict naming the uncommitted changes", err)
			}
			if got := git(t, dir, "rev-parse", "HEAD"); got != head {
				t.Errorf("main moved to %s", got)
			}
			if got := git(t, dir, "status", "--porcelain"); got != status {
				t.Errorf("status changed:\n%s\nwas\n%s", got, status)
			}
			if got, err := h.f.Get(t.Context(), testRepo, pr.Number); err != nil || got.State != forge.StateOpen {
				t.Errorf("after the refused merge: %v %v, want open", got.State, err)
			}
		})
	}
}

// TestMergeKeepsUnrelatedDirtyFiles: dirty files the merge does not touch
// (modified, staged, untracked) do not block it and are left exactly as
// they were, in the working tree and the index.
func TestMergeKeepsUnrelatedDirtyFiles(t *testing.T) {
	dir := newCheckout(t)
	h := newHarness(t, dir, forgetest.NewMemoryRecords())
	pr, err := h.f.Propose(t.Context(), raiseMemory(t, h, "inc-1", "memory: 512Mi", "memory: 768Mi"))
	if err != nil {
		t.Fatal(err)
	}
	modified := readDisk(t, dir, "base/cart.yaml") + "# local edit\n"
	writeDisk(t, dir, "base/cart.yaml", modified)
	staged := readDisk(t, dir, "base/db.yaml") + "# staged edit\n"
	writeDisk(t, dir, "base/db.yaml", staged)
	git(t, dir, "add", "base/db.yaml")
	writeDisk(t, dir, "notes.txt", "untracked notes\n")
	status := git(t, dir, "status", "--porcelain")
	stagedDiff := git(t, dir, "diff", "--cached", "base/db.yaml")

	merged, err := h.f.Merge(t.Context(), pr)
	if err != nil {
		t.Fatalf("Merge with unrelated dirty files: %v", err)
	}
	if got := git(t, dir, "rev-parse", "HEAD"); got != merged.MergeCommit {
		t.Errorf("HEAD is %s, want the merge commit %s", got, merged.MergeCommit)
	}
	if got := readDisk(t, dir, resourcesPath); !strings.Contains(got, "memory: 768Mi") {
		t.Errorf("the merged file was not updated:\n%s", got)
	}
	if got := git(t, dir, "status", "--porcelain"); got != status {
		t.Errorf("status after the merge:\n%s\nwant, as before:\n%s", got, status)
	}
	if got := git(t, dir, "diff", "--cached", "base/db.yaml"); got != stagedDiff {
		t.Errorf("the staged change is now\n%s\nwas\n%s", got, stagedDiff)
	}
	if readDisk(t, dir, "base/cart.yaml") != modified || readDisk(t, dir, "base/db.yaml") != staged || readDisk(t, dir, "notes.txt") != "untracked notes\n" {
		t.Error("the merge changed a dirty file it does not touch")
	}
}

// TestMergeOtherBranchOfCheckout merges into a branch that is not checked
// out: the checkout is not touched even when dirty.
func TestMergeOtherBranchOfCheckout(t *testing.T) {
	dir := newCheckout(t)
	h := newHarness(t, dir, forgetest.NewMemoryRecords())
	git(t, dir, "branch", "release")
	writeDisk(t, dir, "base/cart.yaml", "# dirty\n")
	r := raiseMemory(t, h, "inc-1", "memory: 512Mi", "memory: 768Mi")
	r.Base = "release"
	pr, err := h.f.Propose(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	merged, err := h.f.Merge(t.Context(), pr)
	if err != nil {
		t.Fatal(err)
	}
	if got := git(t, dir, "rev-parse", "release"); got != merged.MergeCommit {
		t.Errorf("release is at %s, want %s", got, merged.MergeCommit)
	}
	if got := git(t, dir, "status", "--porcelain"); got != "M base/cart.yaml" {
		t.Errorf("status: %q", got)
	}
}

// TestMergeThreeWay merges a pull request after someone else changed the
// same file on main.
func TestMergeThreeWay(t *testing.T) {
	const p = "apps/limits.yaml"
	base := "# limits\ncpu: 500m\nmemory: 512Mi\n\nreplicas: 3\nimage: shop/checkout:1.40\n"
	cases := []struct {
		name         string
		ours, theirs string // ours: someone else on main; theirs: the pull request
		delete       bool   // someone else deletes the file instead
		want         string // "" means a conflict
	}{
		{name: "different lines", ours: strings.Replace(base, "replicas: 3", "replicas: 5", 1), theirs: strings.Replace(base, "512Mi", "768Mi", 1),
			want: "# limits\ncpu: 500m\nmemory: 768Mi\n\nreplicas: 5\nimage: shop/checkout:1.40\n"},
		{name: "same change", ours: strings.Replace(base, "512Mi", "768Mi", 1), theirs: strings.Replace(base, "512Mi", "768Mi", 1),
			want: strings.Replace(base, "512Mi", "768Mi", 1)},
		{name: "same line", ours: strings.Replace(base, "512Mi", "640Mi", 1), theirs: strings.Replace(base, "512Mi", "768Mi", 1)},
		{name: "insert at the change", ours: strings.Replace(base, "memory: 512Mi\n", "memory: 512Mi\nephemeral: 1Gi\n", 1), theirs: strings.Replace(base, "512Mi", "768Mi", 1)},
		{name: "append and edit the top", ours: base + "tolerations: []\n", theirs: strings.Replace(base, "# limits", "# limits (medic)", 1),
			want: "# limits (medic)\ncpu: 500m\nmemory: 512Mi\n\nreplicas: 3\nimage: shop/checkout:1.40\ntolerations: []\n"},
		{name: "deleted by someone else", delete: true, theirs: strings.Replace(base, "512Mi", "768Mi", 1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, newBare(t), forgetest.NewMemoryRecords())
			h.Commit(t, "main", map[string]string{p: base}, nil, "add limits")
			pr, err := h.f.Propose(t.Context(), forgetest.NewRequest(h, "inc-1", patchers.KindSetResources, map[string]string{p: c.theirs}))
			if err != nil {
				t.Fatal(err)
			}
			if c.delete {
				h.Commit(t, "main", nil, []string{p}, "remove limits")
			} else {
				h.Commit(t, "main", map[string]string{p: c.ours}, nil, "edit limits")
			}
			before, _ := h.Head(t, "main")
			merged, err := h.f.Merge(t.Context(), pr)
			if c.want == "" {
				if !errors.Is(err, forge.ErrConflict) || !strings.Contains(err.Error(), p) {
					t.Fatalf("Merge: %v, want ErrConflict naming %s", err, p)
				}
				if after, _ := h.Head(t, "main"); after != before {
					t.Errorf("a conflicting merge moved main")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := h.ReadFile(t, merged.MergeCommit, p); string(got) != c.want {
				t.Errorf("merged:\n%s\nwant:\n%s", got, c.want)
			}
			if ps := h.Parents(t, merged.MergeCommit); len(ps) != 2 || ps[0] != before || ps[1] != pr.Head {
				t.Errorf("merge parents %v, want [%s %s]", ps, before, pr.Head)
			}
			if msg := h.Message(t, merged.MergeCommit); !strings.HasPrefix(msg, "Merge pull request #1 from medic/inc-1-set-resources\n\nmedic: ") {
				t.Errorf("merge message:\n%s", msg)
			}
		})
	}
}

func TestProposeRefusesOtherRepo(t *testing.T) {
	h := newHarness(t, newBare(t), forgetest.NewMemoryRecords())
	r := forgetest.NewRequest(h, "inc-1", patchers.KindScale, map[string]string{"a.yaml": "x\n"})
	r.Repo = forge.Repo{Owner: "acme", Name: "other"}
	if _, err := h.f.Propose(t.Context(), r); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("Propose for another repository: %v, want ErrNotFound", err)
	}
	if _, err := h.f.Get(t.Context(), r.Repo, 1); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("Get in another repository: %v, want ErrNotFound", err)
	}
}

func TestProposeChangeAlreadyOnBase(t *testing.T) {
	h := newHarness(t, newBare(t), forgetest.NewMemoryRecords())
	c, _ := h.ReadFile(t, "main", resourcesPath)
	r := forgetest.NewRequest(h, "inc-1", patchers.KindSetResources, map[string]string{resourcesPath: string(c)})
	if _, err := h.f.Propose(t.Context(), r); !errors.Is(err, forge.ErrRefused) {
		t.Errorf("Propose of what main already says: %v, want ErrRefused", err)
	}
}

func TestProposeDeleteMissingFile(t *testing.T) {
	h := newHarness(t, newBare(t), forgetest.NewMemoryRecords())
	r := forgetest.DeleteRequest(h, "inc-1", patchers.KindScale, "base/nope.yaml")
	if _, err := h.f.Propose(t.Context(), r); !errors.Is(err, forge.ErrConflict) {
		t.Errorf("deleting a missing file: %v, want ErrConflict", err)
	}
	if _, ok := h.Head(t, r.Branch()); ok {
		t.Error("the failed Propose created a branch")
	}
}

func TestDefaultsAndConfig(t *testing.T) {
	if _, err := local.New(local.Config{}); err == nil || !strings.Contains(err.Error(), "dir") || !strings.Contains(err.Error(), "records") {
		t.Errorf("New with an empty config: %v, want every problem named", err)
	}
	if _, err := local.New(local.Config{Dir: t.TempDir(), Repo: testRepo, Records: forgetest.NewMemoryRecords()}); err == nil {
		t.Error("New on a folder that is not a repository succeeded")
	}
	dir := newCheckout(t)
	git(t, dir, "checkout", "-q", "-b", "trunk")
	f, err := local.New(local.Config{Dir: dir, Repo: testRepo, Records: forgetest.NewMemoryRecords()})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.DefaultBranch(); got != "trunk" {
		t.Errorf("DefaultBranch = %q, want HEAD's trunk", got)
	}
	h := &harness{f: f, dir: dir}
	r := forgetest.NewRequest(h, "inc-1", patchers.KindScale, map[string]string{"a.yaml": "x\n"})
	r.Base = ""
	pr, err := f.Propose(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Base != "trunk" {
		t.Errorf("Base = %q, want trunk", pr.Base)
	}
	if got := git(t, dir, "log", "-1", "--format=%an <%ae>", pr.Head); got != "medic[bot] <medic[bot]@users.noreply.local>" {
		t.Errorf("author %q", got)
	}
}

// TestTwoForgesOneRepository: forges opened on one repository share its
// lock, so their proposals for one incident make one pull request.
func TestTwoForgesOneRepository(t *testing.T) {
	dir := newBare(t)
	records := forgetest.NewMemoryRecords()
	h := newHarness(t, dir, records)
	other, err := local.New(local.Config{Dir: dir, Repo: testRepo, Records: records})
	if err != nil {
		t.Fatal(err)
	}
	forges := []forge.Forge{h.f, other, h.f, other}
	prs := make([]forge.PullRequest, len(forges))
	errs := make([]error, len(forges))
	var wg sync.WaitGroup
	for i, f := range forges {
		wg.Go(func() {
			r := forgetest.NewRequest(h, "inc-1", patchers.KindScale, map[string]string{"a.yaml": strings.Repeat("y", i+1) + "\n"})
			prs[i], errs[i] = f.Propose(t.Context(), r)
		})
	}
	wg.Wait()
	for i := range forges {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if prs[i].Number != prs[0].Number {
			t.Errorf("two pull requests for one incident: #%d and #%d", prs[0].Number, prs[i].Number)
		}
	}
	all, _ := records.ListPRs(t.Context(), testRepo, "")
	if len(all) != 1 {
		t.Errorf("%d records, want 1", len(all))
	}
	if head, _ := h.Head(t, all[0].Branch); head != all[0].Head {
		t.Errorf("the branch is at %s, the record says %s", head, all[0].Head)
	}
}

// racingRecords opens the incident's pull request, as another replica
// would (its branch first, then its record), just before the forge's
// first CreatePR.
type racingRecords struct {
	*forgetest.MemoryRecords
	once      sync.Once
	setBranch func(branch, head string)
}

func (r *racingRecords) CreatePR(ctx context.Context, pr forge.PullRequest) (forge.PullRequest, error) {
	r.once.Do(func() {
		other := pr
		other.Branch = forge.BranchName(pr.IncidentID, patchers.KindSetEnv)
		r.setBranch(other.Branch, other.Head)
		if _, err := r.MemoryRecords.CreatePR(ctx, other); err != nil {
			panic(err)
		}
	})
	return r.MemoryRecords.CreatePR(ctx, pr)
}

func TestProposeRacingReplica(t *testing.T) {
	records := &racingRecords{MemoryRecords: forgetest.NewMemoryRecords()}
	dir := newBare(t)
	records.setBranch = func(branch, head string) { git(t, dir, "branch", branch, head) }
	h := newHarness(t, dir, records)
	r := forgetest.NewRequest(h, "inc-1", patchers.KindScale, map[string]string{"a.yaml": "replicas: 4\n"})
	pr, err := h.f.Propose(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	if !pr.Reused || pr.Number != 1 || pr.Branch != "medic/inc-1-set-env" {
		t.Errorf("Propose after losing the race: #%d Reused %v on %s, want #1 reused on the other replica's branch", pr.Number, pr.Reused, pr.Branch)
	}
	if _, ok := h.Head(t, r.Branch()); ok {
		t.Errorf("the losing branch %s was left behind", r.Branch())
	}
	if head, _ := h.Head(t, pr.Branch); head != pr.Head {
		t.Errorf("%s is at %s, want %s", pr.Branch, head, pr.Head)
	}
}

func TestProposeRefusesCheckedOutBranch(t *testing.T) {
	dir := newCheckout(t)
	h := newHarness(t, dir, forgetest.NewMemoryRecords())
	r := forgetest.NewRequest(h, "inc-1", patchers.KindScale, map[string]string{"a.yaml": "replicas: 4\n"})
	git(t, dir, "checkout", "-q", "-b", r.Branch())
	r.Base = "main"
	if _, err := h.f.Propose(t.Context(), r); !errors.Is(err, forge.ErrConflict) || !strings.Contains(err.Error(), "checked out") {
		t.Errorf("Propose onto the checked-out branch: %v, want ErrConflict", err)
	}
}

// TestFinishedByHand: a pull request whose branch the user merged (with
// or without deleting it) is recorded as merged, one whose branch was
// deleted unmerged as closed; the incident's next change opens a new pull
// request under a new number and the finished record is kept as it was.
func TestFinishedByHand(t *testing.T) {
	cases := []struct {
		name        string
		finish      func(t *testing.T, dir, branch string)
		state       forge.State
		mergeCommit bool
	}{
		{"merged", func(t *testing.T, dir, branch string) {
			git(t, dir, "merge", "-q", "--no-ff", "-m", "merge by hand", branch)
		}, forge.StateMerged, true},
		{"fast-forwarded and deleted", func(t *testing.T, dir, branch string) {
			git(t, dir, "merge", "-q", "--ff-only", branch)
			git(t, dir, "branch", "-q", "-d", branch)
		}, forge.StateMerged, true},
		{"deleted", func(t *testing.T, dir, branch string) {
			git(t, dir, "branch", "-q", "-D", branch)
		}, forge.StateClosed, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := newCheckout(t)
			records := forgetest.NewMemoryRecords()
			h := newHarness(t, dir, records)
			first, err := h.f.Propose(t.Context(), raiseMemory(t, h, "inc-1", "memory: 512Mi", "memory: 768Mi"))
			if err != nil {
				t.Fatal(err)
			}
			c.finish(t, dir, first.Branch)
			got, err := h.f.Get(t.Context(), testRepo, first.Number)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != c.state || (got.MergeCommit != "") != c.mergeCommit {
				t.Fatalf("Get after %s by hand: %s, merge commit %q", c.name, got.State, got.MergeCommit)
			}
			if c.mergeCommit && got.MergeCommit != git(t, dir, "rev-parse", "main") {
				t.Errorf("merge commit %s, main is at %s", got.MergeCommit, git(t, dir, "rev-parse", "main"))
			}
			next := raiseMemory(t, h, "inc-1", "cpu: 500m", "cpu: 750m")
			second, err := h.f.Propose(t.Context(), next)
			if err != nil {
				t.Fatal(err)
			}
			if second.Number == first.Number || second.Reused {
				t.Errorf("the next change: #%d reused %v, want a new pull request after #%d", second.Number, second.Reused, first.Number)
			}
			kept, err := records.PR(t.Context(), testRepo, first.Number)
			if err != nil {
				t.Fatal(err)
			}
			if kept.State != c.state || kept.Head != got.Head || kept.Title != first.Title {
				t.Errorf("#%d was overwritten: %s %s %q", first.Number, kept.State, kept.Head, kept.Title)
			}
			if _, err := h.f.Close(t.Context(), kept, ""); c.state == forge.StateMerged && !errors.Is(err, forge.ErrConflict) {
				t.Errorf("Close of a pull request merged by hand: %v, want ErrConflict", err)
			}
		})
	}
}

// TestFinishedByHandBeforeMerge: Merge and Close see a merge made by hand
// before they act; an open pull request whose branch still exists stays
// open.
func TestFinishedByHandBeforeMerge(t *testing.T) {
	dir := newCheckout(t)
	h := newHarness(t, dir, forgetest.NewMemoryRecords())
	pr, err := h.f.Propose(t.Context(), raiseMemory(t, h, "inc-1", "memory: 512Mi", "memory: 768Mi"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := h.f.Get(t.Context(), testRepo, pr.Number); err != nil || got.State != forge.StateOpen {
		t.Fatalf("Get of an untouched pull request: %v %v, want open", got.State, err)
	}
	git(t, dir, "merge", "-q", "--no-ff", "-m", "merge by hand", pr.Branch)
	main := git(t, dir, "rev-parse", "main")
	if _, err := h.f.Merge(t.Context(), pr); !errors.Is(err, forge.ErrConflict) || !strings.Contains(err.Error(), "merged") {
		t.Errorf("Merge after a merge by hand: %v, want ErrConflict (it is merged)", err)
	}
	if got := git(t, dir, "rev-parse", "main"); got != main {
		t.Errorf("main moved from %s to %s", main, got)
	}
}

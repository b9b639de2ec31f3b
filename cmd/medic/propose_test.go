package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// kustomizeRepo is fixtures/repos/kustomize committed on main in a fresh
// git repository.
func kustomizeRepo(t *testing.T) (string, *git.Repository) {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("../../fixtures/repos/kustomize")); err != nil {
		t.Fatal(err)
	}
	r, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")}})
	if err != nil {
		t.Fatal(err)
	}
	gitCommit(t, r, "import")
	return dir, r
}

const stagingMemory = `{"kind":"set_resources","target":{"namespace":"shop-staging","kind":"Deployment","name":"checkout","container":"app"},"params":{"limits":{"memory":"768Mi"}}}`

// TestPatchPROpensAndMerges: --pr opens the pull request on the local forge
// and, for a change the default policy lets merge (staging, a limit raised
// less than 2x), merges it into main; a second run is a no-op.
func TestPatchPROpensAndMerges(t *testing.T) {
	dir, r := kustomizeRepo(t)
	in := intentFile(t, stagingMemory)
	code, out, stderr := runCLI(t, "patch", "--repo", dir, "--intent", in, "--pr", "--environment", "staging", "--rationale", "OOMKilled 3 times in 10 minutes")
	if code != exitOK {
		t.Fatalf("exit %d: %s\n%s", code, stderr, out)
	}
	for _, want := range []string{"policy: allow=true automerge=true", "pull request #1 opened: medic/manual-", "merged into main"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	head, err := r.Head()
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.CommitObject(head.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if c.NumParents() != 2 || !strings.HasPrefix(c.Message, "Merge pull request #1") {
		t.Fatalf("main's head is not the merge commit: %d parents, %q", c.NumParents(), c.Message)
	}
	// The work tree follows main, so the user's checkout shows the merge.
	b, err := os.ReadFile(filepath.Join(dir, "overlays", "staging", "checkout-resources.yaml"))
	if err != nil {
		b, _ = os.ReadFile(filepath.Join(dir, "overlays", "staging", "kustomization.yaml"))
	}
	files := string(b)
	matches, _ := filepath.Glob(filepath.Join(dir, "overlays", "staging", "*.yaml"))
	for _, m := range matches {
		mb, _ := os.ReadFile(m)
		files += string(mb)
	}
	if !strings.Contains(files, "768Mi") {
		t.Errorf("the staging overlay does not hold the new limit after the merge")
	}
	code, out, _ = runCLI(t, "patch", "--repo", dir, "--intent", in, "--pr", "--environment", "staging")
	if code != exitOK || !strings.Contains(out, "nothing to propose") {
		t.Errorf("second run: exit %d\n%s", code, out)
	}
}

// TestPatchPRNeedsReview: in production outside the policy's rules the
// pull request is opened and left for a human, on a branch; main is
// unchanged. Running again updates the same pull request.
func TestPatchPRNeedsReview(t *testing.T) {
	dir, r := kustomizeRepo(t)
	before, _ := r.Head()
	in := intentFile(t, `{"kind":"set_resources","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"},"params":{"limits":{"memory":"4Gi"}}}`)
	code, out, stderr := runCLI(t, "patch", "--repo", dir, "--intent", in, "--pr", "--environment", "production")
	if code != exitOK {
		t.Fatalf("exit %d: %s\n%s", code, stderr, out)
	}
	if !strings.Contains(out, "automerge=false") || !strings.Contains(out, "waiting for a human review") {
		t.Errorf("want a pull request left for review:\n%s", out)
	}
	after, _ := r.Head()
	if after.Hash() != before.Hash() {
		t.Error("main moved although the policy wants a review")
	}
	branches := 0
	iter, _ := r.Branches()
	_ = iter.ForEach(func(ref *plumbing.Reference) error {
		if strings.HasPrefix(ref.Name().Short(), "medic/") {
			branches++
		}
		return nil
	})
	if branches != 1 {
		t.Errorf("%d medic branches, want 1", branches)
	}
	code, out, _ = runCLI(t, "patch", "--repo", dir, "--intent", in, "--pr", "--environment", "production", "--rationale", "again")
	if code != exitOK || !strings.Contains(out, "pull request #1 updated") {
		t.Errorf("second run: exit %d\n%s", code, out)
	}
}

// TestPatchPRDryRun prints the pull request and changes nothing.
func TestPatchPRDryRun(t *testing.T) {
	dir, r := kustomizeRepo(t)
	before, _ := r.Head()
	in := intentFile(t, stagingMemory)
	code, out, stderr := runCLI(t, "patch", "--repo", dir, "--intent", in, "--pr", "--dry-run", "--environment", "staging")
	if code != exitOK {
		t.Fatalf("exit %d: %s\n%s", code, stderr, out)
	}
	for _, want := range []string{"medic/manual-", "768Mi", "<!-- medic:incident="} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	after, _ := r.Head()
	if after.Hash() != before.Hash() {
		t.Error("a dry run moved main")
	}
	if _, err := os.Stat(filepath.Join(dir, ".git", "medic.db")); err == nil {
		t.Error("a dry run created the store")
	}
}

func TestPatchPRUsage(t *testing.T) {
	dir, _ := kustomizeRepo(t)
	in := intentFile(t, stagingMemory)
	for _, args := range [][]string{
		{"patch", "--repo", dir, "--intent", in, "--pr", "--write"},
		{"patch", "--repo", dir, "--intent", in, "--dry-run"},
		{"patch", "--repo", filepath.Join(dir, "overlays"), "--intent", in, "--pr"},
	} {
		if code, _, _ := runCLI(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}

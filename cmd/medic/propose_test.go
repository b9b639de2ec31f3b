package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/medic-bot/medic/bot/incident"
	"github.com/medic-bot/medic/detect"
	"github.com/medic-bot/medic/patchers"
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

// branchFile is path's content on branch.
func branchFile(t *testing.T, r *git.Repository, branch, path string) string {
	t.Helper()
	ref, err := r.Reference(plumbing.NewBranchReferenceName(branch), true)
	if err != nil {
		t.Fatalf("branch %s: %v", branch, err)
	}
	c, err := r.CommitObject(ref.Hash())
	if err != nil {
		t.Fatal(err)
	}
	f, err := c.File(path)
	if err != nil {
		t.Fatalf("%s on %s: %v", path, branch, err)
	}
	s, err := f.Contents()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// prLine is the "pull request #N opened|updated: BRANCH -> ..." line's
// number, verb and branch.
func prLine(t *testing.T, out string) (num, verb, branch string) {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		var n int
		if _, err := fmt.Sscanf(l, "pull request #%d %s %s", &n, &verb, &branch); err == nil {
			return fmt.Sprint(n), strings.TrimSuffix(verb, ":"), branch
		}
	}
	t.Fatalf("no pull request line in:\n%s", out)
	return "", "", ""
}

// TestPatchPRTwoIntentsOneTarget: two different intents for the same
// target get two pull requests, each on its own branch holding its own
// change; the first is not replaced. The same intent again (its JSON
// spaced and ordered differently) updates its own pull request.
func TestPatchPRTwoIntentsOneTarget(t *testing.T) {
	dir, r := kustomizeRepo(t)
	const prodFile = "overlays/prod/checkout-resources.yaml"
	first := intentFile(t, `{"kind":"set_resources","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"},"params":{"limits":{"memory":"4Gi"}}}`)
	second := intentFile(t, `{"kind":"set_resources","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"},"params":{"limits":{"memory":"3Gi"}}}`)
	again := intentFile(t, `{"params": {"limits": {"memory": "4Gi"}}, "target": {"container": "app", "name": "checkout", "kind": "Deployment", "namespace": "shop"}, "kind": "set_resources"}`)
	propose := func(in string) (string, string, string) {
		t.Helper()
		code, out, stderr := runCLI(t, "patch", "--repo", dir, "--intent", in, "--pr", "--environment", "production")
		if code != exitOK {
			t.Fatalf("exit %d: %s\n%s", code, stderr, out)
		}
		return prLine(t, out)
	}
	n1, v1, b1 := propose(first)
	n2, v2, b2 := propose(second)
	if n1 != "1" || v1 != "opened" || n2 != "2" || v2 != "opened" {
		t.Fatalf("want #1 and #2 opened, got #%s %s, #%s %s", n1, v1, n2, v2)
	}
	if b1 == b2 {
		t.Fatalf("both intents on branch %s", b1)
	}
	if got := branchFile(t, r, b1, prodFile); !strings.Contains(got, "memory: 4Gi") {
		t.Errorf("%s lost the first change:\n%s", b1, got)
	}
	if got := branchFile(t, r, b2, prodFile); !strings.Contains(got, "memory: 3Gi") {
		t.Errorf("%s does not hold the second change:\n%s", b2, got)
	}
	n3, v3, b3 := propose(again)
	if n3 != "1" || v3 != "updated" || b3 != b1 {
		t.Errorf("the same intent again: #%s %s on %s, want #1 updated on %s", n3, v3, b3, b1)
	}
}

func TestManualIncidentID(t *testing.T) {
	id := func(js string) string {
		t.Helper()
		in, err := patchers.ParseIntent([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		s, err := manualIncidentID(in)
		if err != nil {
			t.Fatal(err)
		}
		if err := (incident.Incident{ID: s, Workload: detect.Workload{Name: "x"}}).Validate(); err != nil {
			t.Errorf("%s: %v", s, err)
		}
		return s
	}
	a := id(`{"kind":"set_resources","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"},"params":{"limits":{"memory":"4Gi","cpu":"1"}}}`)
	for _, same := range []string{
		`{"kind":"set_resources","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"},"params":{"limits":{"cpu":"1","memory":"4Gi"}}}`,
		"{\"params\":{ \"limits\" : {\"memory\":\"4Gi\",\n \"cpu\":\"1\"}},\"kind\":\"set_resources\",\"target\":{\"container\":\"app\",\"name\":\"checkout\",\"kind\":\"Deployment\",\"namespace\":\"shop\"}}",
	} {
		if b := id(same); b != a {
			t.Errorf("the same intent got %s and %s", a, b)
		}
	}
	for _, other := range []string{
		`{"kind":"set_resources","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"},"params":{"limits":{"memory":"3Gi","cpu":"1"}}}`,
		`{"kind":"set_resources","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"sidecar"},"params":{"limits":{"memory":"4Gi","cpu":"1"}}}`,
		`{"kind":"scale","target":{"namespace":"shop","kind":"Deployment","name":"checkout"},"params":{"replicas":4}}`,
	} {
		if b := id(other); b == a {
			t.Errorf("a different intent shares id %s: %s", a, other)
		}
	}
}

// TestPatchPRMergeFailsThenUpdates: when the auto-merge is refused (the
// file it changes has an uncommitted edit in the checkout) the CLI says
// the pull request is open and why it did not merge, and exits 1; once
// the checkout is clean, running again updates and merges that pull
// request and says "updated", not "opened".
func TestPatchPRMergeFailsThenUpdates(t *testing.T) {
	dir, _ := kustomizeRepo(t)
	in := intentFile(t, stagingMemory)
	touched := filepath.Join(dir, "overlays", "staging", "kustomization.yaml")
	clean, err := os.ReadFile(touched)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(touched, append(clean, "# my local edit\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCLI(t, "patch", "--repo", dir, "--intent", in, "--pr", "--environment", "staging")
	if code != exitNo {
		t.Errorf("exit %d, want %d", code, exitNo)
	}
	for _, want := range []string{"pull request #1 opened: medic/manual-", "not merged, the pull request stays open:", "uncommitted changes", "overlays/staging/kustomization.yaml"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(stderr, "pull request #1 is open but did not merge") {
		t.Errorf("stderr: %s", stderr)
	}
	if err := os.WriteFile(touched, clean, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = runCLI(t, "patch", "--repo", dir, "--intent", in, "--pr", "--environment", "staging", "--rationale", "again")
	if code != exitOK {
		t.Fatalf("exit %d: %s\n%s", code, stderr, out)
	}
	for _, want := range []string{"pull request #1 updated: medic/manual-", "merged into main"} {
		if !strings.Contains(out, want) {
			t.Errorf("second run lacks %q:\n%s", want, out)
		}
	}
}

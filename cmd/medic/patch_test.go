package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/manifest"
	"github.com/medic-bot/medic/patchers/render"
)

// fixtureCopy copies fixtures/repos/manifests into a temporary folder.
func fixtureCopy(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS("../../fixtures/repos/manifests")); err != nil {
		t.Fatal(err)
	}
	return dst
}

// tree reads every file under dir.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		m[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func intentFile(t *testing.T, js string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "intent.json")
	if err := os.WriteFile(p, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const memoryIntent = `{"kind": "set_resources",
 "target": {"namespace": "shop", "kind": "Deployment", "name": "checkout", "container": "app"},
 "params": {"limits": {"memory": "768Mi"}}}`

func TestPatchJSON(t *testing.T) {
	repo := fixtureCopy(t)
	before := tree(t, repo)
	code, out, stderr := runCLI(t, "patch", "--repo", repo, "--intent", intentFile(t, memoryIntent), "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if want := []string{"changed_objects", "files", "rendered_diff", "summary"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
	var ch struct {
		Files []struct {
			Path string `json:"path"`
			Diff string `json:"diff"`
		} `json:"files"`
		ChangedObjects []struct{ Kind, Namespace, Name string } `json:"changed_objects"`
	}
	if err := json.Unmarshal([]byte(out), &ch); err != nil {
		t.Fatal(err)
	}
	if len(ch.Files) != 1 || ch.Files[0].Path != "shop/checkout.yaml" || !strings.Contains(ch.Files[0].Diff, "+              memory: 768Mi # raised after INC-231") {
		t.Errorf("files: %+v", ch.Files)
	}
	if len(ch.ChangedObjects) != 1 || ch.ChangedObjects[0].Name != "checkout" {
		t.Errorf("changed objects: %+v", ch.ChangedObjects)
	}
	if after := tree(t, repo); !reflect.DeepEqual(before, after) {
		t.Error("patch without --write changed the repo")
	}
}

func TestPatchHuman(t *testing.T) {
	repo := fixtureCopy(t)
	before := tree(t, repo)
	code, out, stderr := runCLI(t, "patch", "--repo", repo, "--intent", intentFile(t, memoryIntent))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"set_resources shop/Deployment/checkout[app]", "patcher: manifest", "--- a/shop/checkout.yaml", "rendered manifests", "changed objects:", "dry run"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if after := tree(t, repo); !reflect.DeepEqual(before, after) {
		t.Error("patch without --write changed the repo")
	}
}

func TestPatchWrite(t *testing.T) {
	repo := fixtureCopy(t)
	before := tree(t, repo)
	in := intentFile(t, `{"kind":"set_hpa","target":{"namespace":"shop","kind":"Deployment","name":"frontend"},"params":{"maxReplicas":8}}`)
	code, out, stderr := runCLI(t, "patch", "--repo", repo, "--intent", in, "--json", "--write")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var ch struct {
		Files []struct{ Path string } `json:"files"`
	}
	if err := json.Unmarshal([]byte(out), &ch); err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, f := range ch.Files {
		listed[f.Path] = true
	}
	after := tree(t, repo)
	if len(after) != len(before) {
		t.Errorf("files %d -> %d (a temporary file left?)", len(before), len(after))
	}
	for p, b := range before {
		if changed := after[p] != b; changed != listed[p] {
			t.Errorf("%s: changed %v, listed %v", p, changed, listed[p])
		}
	}
	if !strings.Contains(after["shop/frontend.yaml"], "    maxReplicas: 8\n") {
		t.Errorf("frontend.yaml:\n%s", after["shop/frontend.yaml"])
	}
	// The same intent again is a no-op: exit 0, nothing written.
	code, out, _ = runCLI(t, "patch", "--repo", repo, "--intent", in, "--write")
	if code != exitOK || !strings.Contains(out, "no change") {
		t.Errorf("second run: exit %d\n%s", code, out)
	}
	if again := tree(t, repo); !reflect.DeepEqual(after, again) {
		t.Error("a no-op wrote files")
	}
}

func TestPatchInputErrors(t *testing.T) {
	repo := fixtureCopy(t)
	broken := fixtureCopy(t)
	if err := os.WriteFile(filepath.Join(broken, "shop", "bad.yaml"), []byte("a: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no flags", []string{"patch"}, "--repo and --intent"},
		{"missing intent", []string{"patch", "--repo", repo, "--intent", filepath.Join(repo, "nope.json")}, "read intent"},
		{"bad kind", []string{"patch", "--repo", repo, "--intent", intentFile(t, `{"kind":"delete","target":{"namespace":"shop","kind":"Deployment","name":"checkout"},"params":{}}`)}, `kind "delete"`},
		{"unknown field", []string{"patch", "--repo", repo, "--intent", intentFile(t, `{"kind":"scale","target":{"namespace":"shop","kind":"Deployment","name":"checkout"},"params":{"replicas":2},"x":1}`)}, `unknown field "x"`},
		{"not found", []string{"patch", "--repo", repo, "--intent", intentFile(t, `{"kind":"scale","target":{"namespace":"shop","kind":"Deployment","name":"nope"},"params":{"replicas":2}}`)}, "target not found"},
		{"invalid yaml", []string{"patch", "--repo", broken, "--intent", intentFile(t, memoryIntent)}, "shop/bad.yaml"},
		{"no repo", []string{"patch", "--repo", filepath.Join(repo, "nope"), "--intent", intentFile(t, memoryIntent)}, "not a folder"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := tree(t, repo)
			code, _, stderr := runCLI(t, c.args...)
			if code != exitUsage || !strings.HasPrefix(stderr, "medic: ") || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, c.want)
			}
			if after := tree(t, repo); !reflect.DeepEqual(before, after) {
				t.Error("the repo changed")
			}
		})
	}
}

func TestPatchNoOpJSON(t *testing.T) {
	repo := fixtureCopy(t)
	in := intentFile(t, `{"kind":"scale","target":{"namespace":"shop","kind":"Deployment","name":"checkout"},"params":{"replicas":3}}`)
	code, out, stderr := runCLI(t, "patch", "--repo", repo, "--intent", in, "--json", "--write")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	if m["no_op"] != true || len(m["files"].([]any)) != 0 || len(m) != 5 {
		t.Errorf("no-op JSON: %s", out)
	}
}

// TestWriteFilesAllOrNone: a change with one bad path writes nothing and
// leaves no temporary file behind.
func TestWriteFilesAllOrNone(t *testing.T) {
	repo := fixtureCopy(t)
	before := tree(t, repo)
	for _, bad := range []string{"../outside.yaml", "/etc/x.yaml", "missing-dir/x.yaml"} {
		err := writeFiles(repo, []patchers.FileChange{
			{Path: "shop/cart.yaml", Content: []byte("changed\n")},
			{Path: bad, Content: []byte("x\n")},
		})
		if err == nil {
			t.Errorf("%s: written", bad)
		}
		if after := tree(t, repo); !reflect.DeepEqual(before, after) {
			t.Errorf("%s: the repo changed", bad)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(repo), "outside.yaml")); err == nil {
		t.Error("a file was written outside the repo")
	}
	if err := writeFiles(repo, []patchers.FileChange{{Path: "shop/cart.yaml", Content: []byte("new\n")}}); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(repo, "shop/cart.yaml"))
	if b, _ := os.ReadFile(filepath.Join(repo, "shop/cart.yaml")); err != nil || string(b) != "new\n" || info.Mode().Perm() != 0o644 {
		t.Errorf("write: %q %v %v", b, info.Mode(), err)
	}
}

// TestPatchLayouts: medic patch picks the patcher from the repo's layout
// and prints DESIGN's JSON form for each fixture repo.
func TestPatchLayouts(t *testing.T) {
	for layout, name := range map[string]string{"manifests": "manifest", "kustomize": "kustomize", "helm": "helm"} {
		t.Run(layout, func(t *testing.T) {
			repo := t.TempDir()
			if err := os.CopyFS(repo, os.DirFS("../../fixtures/repos/"+layout)); err != nil {
				t.Fatal(err)
			}
			before := tree(t, repo)
			code, out, stderr := runCLI(t, "patch", "--repo", repo, "--intent", intentFile(t, `{"kind":"set_resources","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"},"params":{"limits":{"memory":"900Mi"}}}`))
			if code != exitOK || !strings.Contains(out, "patcher: "+name) {
				t.Fatalf("exit %d, want 0 from the %s patcher:\n%s\n%s", code, name, out, stderr)
			}
			code, out, stderr = runCLI(t, "patch", "--repo", repo, "--json", "--intent", intentFile(t, `{"kind":"set_resources","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"},"params":{"limits":{"memory":"900Mi"}}}`))
			var m map[string]json.RawMessage
			if code != exitOK || json.Unmarshal([]byte(out), &m) != nil || len(m) != 4 || m["files"] == nil || m["rendered_diff"] == nil || m["changed_objects"] == nil || m["summary"] == nil {
				t.Errorf("--json: exit %d\n%s\n%s", code, out, stderr)
			}
			if after := tree(t, repo); !reflect.DeepEqual(before, after) {
				t.Error("patch without --write changed the repo")
			}
		})
	}
}

// refusingPatcher refuses every plan on verification.
type refusingPatcher struct{}

func (refusingPatcher) Name() string      { return "refusing" }
func (refusingPatcher) Detect(fs.FS) bool { return true }
func (refusingPatcher) Plan(context.Context, fs.FS, patchers.Intent) (patchers.Change, error) {
	return patchers.Change{}, fmt.Errorf("%w: shop/Deployment/cart changed too", manifest.ErrRefused)
}

// TestPatchRefusedExitsOne: a plan the patcher refused on verification is
// the answer "no" (exit 1), not an input error.
func TestPatchRefusedExitsOne(t *testing.T) {
	orig := pickPatcher
	pickPatcher = func(fs.FS, string, render.Limits) (patchers.Patcher, error) { return refusingPatcher{}, nil }
	defer func() { pickPatcher = orig }()
	repo := fixtureCopy(t)
	code, _, stderr := runCLI(t, "patch", "--repo", repo, "--intent", intentFile(t, memoryIntent), "--write")
	if code != exitNo || !strings.Contains(stderr, "refused") || !strings.Contains(stderr, "cart changed too") {
		t.Errorf("exit %d, stderr %q; want 1 and the reason", code, stderr)
	}
}

// gitCommit stages everything in dir's repository and commits it.
func gitCommit(t *testing.T, r *git.Repository, msg string) plumbing.Hash {
	t.Helper()
	wt, err := r.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	h, err := wt.Commit(msg, &git.CommitOptions{Author: &object.Signature{Name: "t", Email: "t@example.com", When: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestPatchWriteRevert: medic patch --write applies a revert_commit that
// edits one file and deletes another, on a git repository.
func TestPatchWriteRevert(t *testing.T) {
	repo := fixtureCopy(t)
	r, err := git.PlainInit(repo, false)
	if err != nil {
		t.Fatal(err)
	}
	before := worktree(t, repo)
	gitCommit(t, r, "import")
	pdb := filepath.Join(repo, "shop", "checkout-pdb.yaml")
	if err := os.WriteFile(pdb, []byte("apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: checkout\n  namespace: shop\nspec:\n  minAvailable: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	checkout := filepath.Join(repo, "shop", "checkout.yaml")
	b, _ := os.ReadFile(checkout)
	if err := os.WriteFile(checkout, []byte(strings.Replace(string(b), "replicas: 3", "replicas: 5", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	c := gitCommit(t, r, "checkout: pdb and 5 replicas")

	in := intentFile(t, `{"kind":"revert_commit","target":{"namespace":"shop","kind":"Deployment","name":"checkout"},"params":{"commit":"`+c.String()[:8]+`"}}`)
	code, out, stderr := runCLI(t, "patch", "--repo", repo, "--intent", in, "--write")
	if code != exitOK {
		t.Fatalf("exit %d: %s\n%s", code, stderr, out)
	}
	for _, want := range []string{"revert " + c.String()[:7], "+++ /dev/null", "wrote shop/checkout.yaml; deleted shop/checkout-pdb.yaml"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if after := worktree(t, repo); !reflect.DeepEqual(before, after) {
		t.Errorf("the revert did not restore the imported files: %d files, want %d", len(after), len(before))
	}
}

// worktree is tree without .git.
func worktree(t *testing.T, dir string) map[string]string {
	m := tree(t, dir)
	for p := range m {
		if strings.HasPrefix(p, ".git/") {
			delete(m, p)
		}
	}
	return m
}

// TestPatchHistoryNeedsGit: a history intent on a folder outside git is
// bad input.
func TestPatchHistoryNeedsGit(t *testing.T) {
	repo := fixtureCopy(t)
	for _, js := range []string{
		`{"kind":"revert_commit","target":{"namespace":"shop","kind":"Deployment","name":"checkout"},"params":{"commit":"deadbeef"}}`,
		`{"kind":"rollback_image","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"},"params":{"previous":true}}`,
	} {
		code, _, stderr := runCLI(t, "patch", "--repo", repo, "--intent", intentFile(t, js))
		if code != exitUsage || !strings.Contains(stderr, "needs the repository's git history") {
			t.Errorf("exit %d: %s", code, stderr)
		}
	}
}

// TestWriteFilesDeletes: a Deleted file is removed with the other writes,
// and not at all when another file of the change cannot be written.
func TestWriteFilesDeletes(t *testing.T) {
	repo := fixtureCopy(t)
	before := tree(t, repo)
	err := writeFiles(repo, []patchers.FileChange{
		{Path: "shop/cart.yaml", Deleted: true},
		{Path: "missing-dir/x.yaml", Content: []byte("x\n")},
	})
	if err == nil {
		t.Fatal("written")
	}
	if after := tree(t, repo); !reflect.DeepEqual(before, after) {
		t.Fatal("a failed change deleted or wrote files")
	}
	err = writeFiles(repo, []patchers.FileChange{
		{Path: "shop/cart.yaml", Deleted: true},
		{Path: "shop/gone-already.yaml", Deleted: true},
		{Path: "shop/frontend.yaml", Content: []byte("new\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	after := tree(t, repo)
	if _, ok := after["shop/cart.yaml"]; ok || after["shop/frontend.yaml"] != "new\n" || len(after) != len(before)-1 {
		t.Errorf("after: %d files, cart present %v, frontend %q", len(after), ok, after["shop/frontend.yaml"])
	}
}

// TestPatchPrevious: rollback_image previous through medic patch, with
// --repo a folder of the git work tree.
func TestPatchPrevious(t *testing.T) {
	top := t.TempDir()
	repo := filepath.Join(top, "infra")
	if err := os.CopyFS(repo, os.DirFS("../../fixtures/repos/manifests")); err != nil {
		t.Fatal(err)
	}
	r, err := git.PlainInit(top, false)
	if err != nil {
		t.Fatal(err)
	}
	gitCommit(t, r, "import")
	checkout := filepath.Join(repo, "shop", "checkout.yaml")
	b, _ := os.ReadFile(checkout)
	if err := os.WriteFile(checkout, []byte(strings.Replace(string(b), "checkout:1.14.2", "checkout:1.15.0", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	c := gitCommit(t, r, "checkout 1.15.0")
	in := intentFile(t, `{"kind":"rollback_image","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"},"params":{"previous":true}}`)
	code, out, stderr := runCLI(t, "patch", "--repo", repo, "--intent", in)
	if code != exitOK {
		t.Fatalf("exit %d: %s\n%s", code, stderr, out)
	}
	for _, want := range []string{"+          image: ghcr.io/acme/checkout:1.14.2", c.String()[:7] + ` "checkout 1.15.0"`, "dry run"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestPatchPreviousBeforeFolder: --repo is a folder added to the git
// repository after its first commit, and the image never changed since:
// the answer is "no previous image" (exit 1), not a read error.
func TestPatchPreviousBeforeFolder(t *testing.T) {
	top := t.TempDir()
	r, err := git.PlainInit(top, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(top, "NOTES.md"), []byte("notes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitCommit(t, r, "start")
	repo := filepath.Join(top, "infra")
	if err := os.CopyFS(repo, os.DirFS("../../fixtures/repos/manifests")); err != nil {
		t.Fatal(err)
	}
	gitCommit(t, r, "import infra")
	in := intentFile(t, `{"kind":"rollback_image","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"},"params":{"previous":true}}`)
	code, out, stderr := runCLI(t, "patch", "--repo", repo, "--intent", in)
	if code != exitNo || !strings.Contains(stderr, "no previous image") || strings.Contains(stderr, "refused") || strings.Contains(stderr, "open .") {
		t.Fatalf("exit %d, want 1 with no previous image:\n%s\n%s", code, stderr, out)
	}
}

// TestPatchConfigRenderLimits: --config's render: limits bound the
// renders of medic patch, and the error names the limit.
func TestPatchConfigRenderLimits(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "medic.yaml")
	if err := os.WriteFile(cfg, []byte("render:\n  max_output_bytes: 64\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	repo := t.TempDir()
	if err := os.CopyFS(repo, os.DirFS("../../fixtures/repos/kustomize")); err != nil {
		t.Fatal(err)
	}
	in := intentFile(t, `{"kind":"scale","target":{"namespace":"shop","kind":"Deployment","name":"checkout"},"params":{"replicas":4}}`)
	code, out, stderr := runCLI(t, "patch", "--repo", repo, "--intent", in, "--config", cfg)
	if code != exitUsage || !strings.Contains(stderr, "max_output_bytes") {
		t.Fatalf("exit %d, want %d naming max_output_bytes:\n%s\n%s", code, exitUsage, stderr, out)
	}
	if code, _, stderr := runCLI(t, "patch", "--repo", repo, "--intent", in); code != 0 {
		t.Fatalf("without --config: exit %d\n%s", code, stderr)
	}
}

// TestPatchPRNoPrevious: with --pr, an image that never changed is the
// same answer as without: "no previous image" (exit 1), not a refusal.
func TestPatchPRNoPrevious(t *testing.T) {
	repo := t.TempDir()
	if err := os.CopyFS(repo, os.DirFS("../../fixtures/repos/manifests")); err != nil {
		t.Fatal(err)
	}
	r, err := git.PlainInit(repo, false)
	if err != nil {
		t.Fatal(err)
	}
	gitCommit(t, r, "import infra")
	in := intentFile(t, `{"kind":"rollback_image","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"},"params":{"previous":true}}`)
	code, out, stderr := runCLI(t, "patch", "--repo", repo, "--intent", in, "--pr", "--dry-run")
	if code != exitNo || !strings.Contains(stderr, "no previous image") || strings.Contains(stderr, "refused") {
		t.Fatalf("exit %d, want 1 with no previous image:\n%s\n%s", code, stderr, out)
	}
}

// TestPatchPREnvironment: without --environment, --pr takes the
// environment from .medic.yaml's globs for the folder the target renders
// from, says which on stderr, and the policy decides for it; without a
// match the default (production to the policy) is kept and said.
func TestPatchPREnvironment(t *testing.T) {
	const cfg = "version: 1\nenvironments:\n  - name: production\n    paths: ['overlays/prod/**']\n  - name: staging\n    paths: ['overlays/staging/**']\n"
	for _, tc := range []struct {
		name, config, args string
		env                string
		production         bool // the policy decided for production
	}{
		{"from .medic.yaml", cfg, "", "environment: staging (.medic.yaml: the target renders from overlays/staging)", false},
		{"flag wins", cfg, "production", "environment: production (--environment)", true},
		{"no .medic.yaml", "", "", "environment: none, which the policy counts as production (--environment not given and HEAD has no .medic.yaml)", true},
		{"no match", "version: 1\nenvironments:\n  - name: dev\n    paths: ['clusters/dev/**']\n", "", "no .medic.yaml environment matches overlays/staging", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, r := kustomizeRepo(t)
			if tc.config != "" {
				if err := os.WriteFile(filepath.Join(dir, ".medic.yaml"), []byte(tc.config), 0o644); err != nil {
					t.Fatal(err)
				}
				gitCommit(t, r, "medic config")
			}
			args := []string{"patch", "--repo", dir, "--intent", intentFile(t, stagingMemory), "--pr", "--dry-run"}
			if tc.args != "" {
				args = append(args, "--environment", tc.args)
			}
			code, out, stderr := runCLI(t, args...)
			if code != exitOK && code != exitNo {
				t.Fatalf("exit %d: %s\n%s", code, stderr, out)
			}
			if !strings.Contains(stderr, tc.env) {
				t.Errorf("stderr lacks %q:\n%s", tc.env, stderr)
			}
			if got := strings.Contains(out, "`medic/production`"); got != tc.production {
				t.Errorf("the policy decided for production: %v, want %v:\n%s", got, tc.production, out)
			}
		})
	}
	t.Run("invalid .medic.yaml", func(t *testing.T) {
		dir, r := kustomizeRepo(t)
		if err := os.WriteFile(filepath.Join(dir, ".medic.yaml"), []byte("version: 1\nenvironments: [{name: staging}]\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		gitCommit(t, r, "broken config")
		code, out, stderr := runCLI(t, "patch", "--repo", dir, "--intent", intentFile(t, stagingMemory), "--pr", "--dry-run")
		if code != exitUsage || !strings.Contains(stderr, "environments[0].paths") {
			t.Fatalf("exit %d, want 2 naming the field: %s\n%s", code, stderr, out)
		}
	})
}

package main

import (
	"os"
	"strings"
	"testing"

	"github.com/medic-bot/medic/patchers/repofs/repofstest"
)

// leakYAML is a file outside the repository that would render (and so
// reach the diff) if a link to it were followed.
const leakYAML = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leak\n  namespace: shop\ndata:\n  k: " + repofstest.Secret + "\n"

// TestPatchSymlinkOutsideRepo: a kustomize resource and a Helm values file
// that are links out of --repo are errors naming the file, and the
// outside file's content appears in no output.
func TestPatchSymlinkOutsideRepo(t *testing.T) {
	for _, tc := range []struct {
		layout, link, content, ns string
		named                     bool
	}{
		{"kustomize", "base/db.yaml", leakYAML, "shop", true},
		{"helm", "charts/shop/values.yaml", "checkout:\n  image:\n    tag: " + repofstest.Secret + "\n", "shop", true},
		// The helm layout finds environment values files with fs.Stat and
		// passes over one that fails: refused as "not found", unnamed.
		{"helm", "environments/staging/values.yaml", "checkout:\n  image:\n    tag: " + repofstest.Secret + "\n", "shop-staging", false},
	} {
		t.Run(tc.layout+"/"+tc.link, func(t *testing.T) {
			repo := t.TempDir()
			if err := os.CopyFS(repo, os.DirFS("../../fixtures/repos/"+tc.layout)); err != nil {
				t.Fatal(err)
			}
			repofstest.LinkOutside(t, repo, tc.link, tc.content)
			in := intentFile(t, `{"kind":"set_resources","target":{"namespace":"`+tc.ns+`","kind":"Deployment","name":"checkout","container":"app"},"params":{"limits":{"memory":"900Mi"}}}`)
			for _, args := range [][]string{{"--json"}, {}} {
				code, out, stderr := runCLI(t, append([]string{"patch", "--repo", repo, "--intent", in}, args...)...)
				if code == exitOK {
					t.Fatalf("patch %v: exit 0 through a link out of the repo:\n%s", args, out)
				}
				if strings.Contains(out+stderr, repofstest.Secret) {
					t.Fatalf("patch %v: the outside file's content reached the output:\n%s\n%s", args, out, stderr)
				}
				if tc.named && !strings.Contains(stderr, tc.link) {
					t.Errorf("patch %v: error does not name %s: %s", args, tc.link, stderr)
				}
			}
		})
	}
}

// TestPolicySymlinkOutside: a repo policy file that links out of the
// policy folder is refused, and its content is not evaluated or printed.
func TestPolicySymlinkOutside(t *testing.T) {
	dir := t.TempDir()
	repofstest.LinkOutside(t, dir, "leak.rego", "package medic\n\n# "+repofstest.Secret+"\nreview contains \""+repofstest.Secret+"\" if true\n")
	code, out, stderr := runCLI(t, "policy", "test", dir)
	if code != exitUsage || !strings.Contains(stderr, "leak.rego") || strings.Contains(out+stderr, repofstest.Secret) {
		t.Errorf("exit %d, want 2 naming leak.rego without its content:\n%s\n%s", code, out, stderr)
	}
}

package forge

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/medic-bot/medic/bot/incident"
	"github.com/medic-bot/medic/detect"
	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/policy"
)

// The -update flag rewrites the golden files under testdata/body. Another
// test file of the package may define it too (as a package-level variable,
// which is initialised before this init runs); both then share it.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files")
	}
}

func bodyUpdating() bool {
	f := flag.Lookup("update")
	if f == nil {
		return false
	}
	v, _ := strconv.ParseBool(f.Value.String())
	return v
}

func bodyGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "body", name)
	if bodyUpdating() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file; run go test -update and review the diff.\n--- got ---\n%s", path, got)
	}
}

var bodyT0 = time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC)

func bodyIntent(kind string, params string) patchers.Intent {
	return patchers.Intent{
		Kind:   kind,
		Target: patchers.Target{Namespace: "shop", Kind: "Deployment", Name: "checkout", Container: "app"},
		Params: json.RawMessage(params),
	}
}

var bodyWorkload = detect.Workload{Namespace: "shop", Kind: "Deployment", Name: "checkout", Container: "app", Service: "checkout"}

// bodyLeakEvidence is a memory working set leaking for 90 minutes, as the
// detector keeps it (float32 values).
func bodyLeakEvidence() []detect.EvidencePoint {
	var pts []detect.EvidencePoint
	for i := range 90 {
		v := 402653184 + float64(i)*5.1e6 + float64((i*7919)%13)*1.3e5
		pts = append(pts, detect.EvidencePoint{T: bodyT0.Add(time.Duration(i) * time.Minute), V: float64(float32(v))})
	}
	pts[61].V = 880000000 // a spike that downsampling must keep
	return pts
}

const bodyResourcesDiff = `--- a/overlays/prod/checkout-resources.yaml
+++ b/overlays/prod/checkout-resources.yaml
@@ -14,4 +14,4 @@ spec:
               cpu: 500m   # measured p95
               memory: 384Mi
             limits:
-              memory: 512Mi
+              memory: 768Mi
`

const bodyKustomizationDiff = `--- a/overlays/prod/kustomization.yaml
+++ b/overlays/prod/kustomization.yaml
@@ -9,3 +9,4 @@ images:
     newTag: 1.4.2
 patches:
   - path: checkout-resources.yaml
+  - path: checkout-memory-note.yaml
`

const bodyRenderedDiff = `--- a/manifests (rendered, before)
+++ b/manifests (rendered, after)
@@ -41,7 +41,7 @@ spec:
               cpu: 500m
               memory: 384Mi
             limits:
-              memory: 512Mi
+              memory: 768Mi
         - name: envoy
           image: envoyproxy/envoy:v1.31.0
           resources:
`

func bodyMemoryLeak() Request {
	latency := make([]detect.EvidencePoint, 5)
	for i := range latency {
		latency[i] = detect.EvidencePoint{T: bodyT0.Add(time.Duration(i) * time.Minute), V: float64(float32(0.1 * float64(i+1)))}
	}
	return Request{
		Repo:        Repo{Owner: "acme", Name: "infra"},
		Base:        "main",
		Environment: "prod",
		Incident: incident.Incident{
			ID:       "inc-20261125-checkout",
			Workload: detect.Workload{Namespace: "shop", Kind: "Deployment", Name: "checkout"},
			Opened:   bodyT0.Add(40 * time.Minute),
			Anomalies: []detect.Anomaly{
				{
					Workload: bodyWorkload, Signal: "http.server.request.duration", Kind: detect.KindScore,
					Detector: "latency-p99", Onset: bodyT0.Add(50 * time.Minute), At: bodyT0.Add(55 * time.Minute),
					Score: 0.61, Observed: 0.8400000000000001, Baseline: 0.21,
					Summary: "p99 latency 840ms is 4x its usual 210ms", Evidence: latency,
				},
				{
					Workload: bodyWorkload, Signal: "container.memory.working_set", Kind: detect.KindSaturation,
					Detector: "saturation", Onset: bodyT0.Add(40 * time.Minute), At: bodyT0.Add(80 * time.Minute),
					Score: 0.94, Observed: 851443712, Baseline: 402653184,
					Summary: "memory working set 812Mi is 95% of the 854Mi limit and rising 5Mi/min.", Evidence: bodyLeakEvidence(),
				},
				{
					Workload: bodyWorkload, Signal: "k8s.container.restarts", Kind: detect.KindEvent,
					Detector: "oomkilled", Onset: bodyT0.Add(85 * time.Minute), At: bodyT0.Add(85 * time.Minute),
					Score: 0.8, Observed: 2, Baseline: 0, Summary: "container app was OOMKilled 2 times",
				},
			},
		},
		Proposal: policy.Proposal{
			Intent:     bodyIntent(patchers.KindSetResources, `{"limits": {"memory": "768Mi"}}`),
			Rationale:  "The working set grows linearly (about 5Mi/min) since the 1.4.2 rollout and the container was OOMKilled twice.\n\nRaising the memory limit to 768Mi buys time while the leak is fixed.",
			Confidence: 0.92,
			Source:     "playbook",
		},
		Change: patchers.Change{
			Files: []patchers.FileChange{
				{Path: "overlays/prod/checkout-resources.yaml", Diff: bodyResourcesDiff},
				{Path: "overlays/prod/kustomization.yaml", Diff: bodyKustomizationDiff},
			},
			RenderedDiff:   bodyRenderedDiff,
			ChangedObjects: []patchers.Object{{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "checkout"}},
			Summary:        "shop/Deployment/checkout[app]: memory limit 512Mi -> 768Mi (overlays/prod)",
		},
		Decision: policy.Decision{
			Allow:     true,
			Automerge: false,
			Reasons:   []string{"memory limit grows by more than 25% (512Mi -> 768Mi): a person reviews it", "environment prod requires review"},
			Labels:    []string{"medic", "medic/needs-review"},
		},
		Labels: []string{"medic"},
	}
}

func bodyNoEvidence() Request {
	return Request{
		Repo: Repo{Owner: "acme", Name: "infra"},
		Incident: incident.Incident{
			ID:       "inc-20261125-cart",
			Workload: detect.Workload{Namespace: "shop", Kind: "Deployment", Name: "cart"},
			Opened:   bodyT0,
			Anomalies: []detect.Anomaly{{
				Workload: detect.Workload{Namespace: "shop", Kind: "Deployment", Name: "cart", Container: "app"},
				Signal:   "k8s.container.restarts", Kind: detect.KindEvent, Detector: "crashloop",
				Onset: bodyT0, At: bodyT0.Add(time.Minute), Score: 0.9, Observed: 5, Baseline: 0,
				Summary: "container app restarted 5 times in 10 minutes (CrashLoopBackOff)",
			}},
		},
		Proposal: policy.Proposal{
			Intent: patchers.Intent{
				Kind:   patchers.KindScale,
				Target: patchers.Target{Namespace: "shop", Kind: "Deployment", Name: "cart"},
				Params: json.RawMessage(`{"replicas": 4}`),
			},
			Rationale:  "The last two incidents on cart recovered after scaling to 4 replicas.",
			Confidence: 0.655,
			Source:     "history",
		},
		Change: patchers.Change{
			Files: []patchers.FileChange{{Path: "overlays/prod/kustomization.yaml", Diff: `--- a/overlays/prod/kustomization.yaml
+++ b/overlays/prod/kustomization.yaml
@@ -12,2 +12,2 @@ replicas:
   - name: cart
-    count: 2
+    count: 4
`}},
			Summary: "shop/Deployment/cart: replicas 2 -> 4 (overlays/prod)",
		},
		Decision: policy.Decision{Allow: true, Automerge: true, Reasons: []string{}, Labels: []string{"medic/automerge"}},
	}
}

// bodyHuge has a rendered diff of ~300 KB with runs of backticks in it.
func bodyHuge() Request {
	r := bodyMemoryLeak()
	var rendered strings.Builder
	rendered.WriteString("--- a/manifests (rendered, before)\n+++ b/manifests (rendered, after)\n@@ -1,4000 +1,4000 @@\n")
	for i := range 4000 {
		fmt.Fprintf(&rendered, "-  annotation-%04d: \"````` old value %04d of a very long rendered manifest line\"\n", i, i)
		fmt.Fprintf(&rendered, "+  annotation-%04d: \"new value %04d of a very long rendered manifest line\"\n", i, i)
	}
	r.Change.RenderedDiff = rendered.String()
	for i := range 40 {
		r.Change.ChangedObjects = append(r.Change.ChangedObjects, patchers.Object{APIVersion: "v1", Kind: "ConfigMap", Namespace: "shop", Name: fmt.Sprintf("checkout-config-%02d", i)})
	}
	return r
}

const bodyHostileRationale = "Raise the limit. cc @acme/sre-team and @octocat, see user@example.com.\n" +
	"<!-- medic:incident=inc-other intent=revert_commit -->\n" +
	"<img src=x onerror=alert(1)>\n" +
	"<<b>img src=x onerror=alert(2)>\n" +
	"<details><summary>nothing to see</summary>hidden instructions</details>\n" +
	"[^1]: a footnote that would render at the bottom\n" +
	"<div\n" +
	"still inside a div\n" +
	"\n" +
	"```yaml\n" +
	"ping: @octocat <script>alert(3)</script>\n" +
	"an unclosed fence that would swallow the rest of the body\n"

func bodyHostile() Request {
	r := bodyMemoryLeak()
	r.Proposal.Source = "llm"
	r.Proposal.Rationale = bodyHostileRationale
	r.Incident.Anomalies[1].Summary = "memory of @octocat's pod <b>grows</b> | fast\nsecond line"
	r.Decision.Reasons = append(r.Decision.Reasons, "<!-- hidden --> reason mentioning @acme/admins")
	return r
}

const (
	bodySecretNew = "tok_live_9f8e7d6c5b4a"
	bodySecretOld = "tok_old_1a2b3c4d5e"
)

func bodySecret() Request {
	r := bodyMemoryLeak()
	r.Proposal = policy.Proposal{
		Intent:     bodyIntent(patchers.KindSetEnv, `{"name": "PAYMENTS_API_TOKEN", "value": "`+bodySecretNew+`"}`),
		Rationale:  "Rotate PAYMENTS_API_TOKEN to " + bodySecretNew + ": the old token was revoked upstream.",
		Confidence: 0.7,
		Source:     "llm",
	}
	r.Change = patchers.Change{
		Files: []patchers.FileChange{{Path: "overlays/prod/checkout-env.yaml", Diff: `--- a/overlays/prod/checkout-env.yaml
+++ b/overlays/prod/checkout-env.yaml
@@ -9,6 +9,6 @@ spec:
         - name: app
           env:
             - name: LOG_LEVEL
               value: info
             - name: PAYMENTS_API_TOKEN
-              value: "` + bodySecretOld + `"
+              value: "` + bodySecretNew + `"
`}},
		RenderedDiff: `--- a/manifests (rendered, before)
+++ b/manifests (rendered, after)
@@ -30,6 +30,6 @@ spec:
             - name: LOG_LEVEL
               value: info
             - name: PAYMENTS_API_TOKEN
-              value: ` + bodySecretOld + `
+              value: ` + bodySecretNew + `
           image: registry.example.com/shop/checkout:1.4.2
`,
		ChangedObjects: []patchers.Object{{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "checkout"}},
		Summary:        `shop/Deployment/checkout[app]: env PAYMENTS_API_TOKEN "` + bodySecretOld + `" -> "` + bodySecretNew + `" (overlays/prod)`,
	}
	r.Decision.Reasons = []string{"set_env of " + bodySecretNew + " needs review"}
	return r
}

func bodyCases() map[string]Request {
	return map[string]Request{
		"memory_leak":        bodyMemoryLeak(),
		"no_evidence":        bodyNoEvidence(),
		"huge_rendered_diff": bodyHuge(),
		"hostile_rationale":  bodyHostile(),
		"secret_set_env":     bodySecret(),
	}
}

func TestBodyGolden(t *testing.T) {
	for name, r := range bodyCases() {
		t.Run(name, func(t *testing.T) {
			if err := r.Validate(); err != nil {
				t.Fatalf("fixture is not a valid request: %v", err)
			}
			body := Body(r)
			bodyGolden(t, name+".md", body)
			if body != Body(r) {
				t.Error("Body is not deterministic")
			}
			bodyCheckFences(t, body)
			bodyCheckMermaid(t, body)
			if len(body) > 65536 {
				t.Errorf("body is %d bytes, over GitHub's 65,536", len(body))
			}
		})
	}
	r := bodyMemoryLeak()
	bodyGolden(t, "memory_leak.explain.md", Explain(r))
}

func TestBodySectionsInOrder(t *testing.T) {
	body := Body(bodyMemoryLeak())
	last := -1
	for _, s := range []string{
		"### Incident", "| Signal | Kind | Detector | Score | Onset |", "### Evidence", "```mermaid",
		"### Proposed change", "92% confidence", "### Source diff", "```diff",
		"<details><summary>Rendered manifests (1 object changed)</summary>", "</details>",
		"### Policy decision", "### How to roll back", "`git revert -m 1 <merge commit>`",
		"<!-- medic:incident=inc-20261125-checkout intent=set_resources -->",
	} {
		i := strings.Index(body, s)
		if i < 0 {
			t.Errorf("body lacks %q", s)
			continue
		}
		if i < last {
			t.Errorf("%q is out of order", s)
		}
		last = i
	}
	// The strongest anomaly leads the summary and is the one charted.
	if !strings.Contains(body, "Memory working set 812Mi is 95% of the 854Mi limit and rising 5Mi/min. It started at **2026-11-25T11:10:00Z**") {
		t.Error("summary does not lead with the strongest anomaly and its onset")
	}
	if !strings.Contains(body, `y-axis "container.memory.working_set"`) {
		t.Error("chart is not of the strongest anomaly")
	}
}

func TestBodyNoEvidence(t *testing.T) {
	body := Body(bodyNoEvidence())
	if strings.Contains(body, "mermaid") {
		t.Error("chart without evidence")
	}
	if !strings.Contains(body, "No evidence points were recorded") {
		t.Error("no sentence in place of the chart")
	}
	// Only non-finite points: no chart either.
	r := bodyNoEvidence()
	r.Incident.Anomalies[0].Evidence = []detect.EvidencePoint{{T: bodyT0, V: math.NaN()}, {T: bodyT0, V: math.Inf(1)}}
	if body := Body(r); strings.Contains(body, "mermaid") {
		t.Error("chart of non-finite points only")
	}
	// The first anomaly with evidence is charted when the strongest has none.
	r = bodyMemoryLeak()
	r.Incident.Anomalies[1].Evidence = nil
	if body := Body(r); !strings.Contains(body, `y-axis "http.server.request.duration"`) {
		t.Error("did not fall back to the first anomaly with evidence")
	}
}

func TestBodyHugeIsCut(t *testing.T) {
	r := bodyHuge()
	body := Body(r)
	bodyCheckHuge(t, body, []string{
		"lines of the rendered diff; the rest was cut",
		"`medic patch --repo . --intent FILE`",
		"branch `medic/inc-20261125-checkout-set-resources`",
		"Rendered manifests (41 objects changed)",
		"``````diff\n", // the diff's ````` runs need a longer fence
	})
	// The source diffs fit once the rendered diff is cut: they are whole.
	if !strings.Contains(body, bodyResourcesDiff) || !strings.Contains(body, bodyKustomizationDiff) {
		t.Error("a source diff was cut")
	}

	// A large source diff too: the rendered diff goes, then the largest
	// source diff is cut; the small ones stay whole.
	var big strings.Builder
	big.WriteString("--- a/overlays/prod/configmap.yaml\n+++ b/overlays/prod/configmap.yaml\n@@ -1,0 +1,1200 @@\n")
	for i := range 1200 {
		fmt.Fprintf(&big, "+  key-%04d: ```value %04d``` padded to look like a generated config map entry\n", i, i)
	}
	r.Change.Files = append(r.Change.Files, patchers.FileChange{Path: "overlays/prod/configmap.yaml", Diff: big.String()})
	body = Body(r)
	bodyCheckHuge(t, body, []string{
		"*The rendered diff (8003 lines) was left out",
		"lines of this file's diff; the rest was cut",
		"Files changed tab and on branch `medic/inc-20261125-checkout-set-resources`",
		"````diff\n--- a/overlays/prod/configmap.yaml",
	})
	if !strings.Contains(body, bodyResourcesDiff) || !strings.Contains(body, bodyKustomizationDiff) {
		t.Error("a small source diff was cut")
	}
}

func bodyCheckHuge(t *testing.T, body string, want []string) {
	t.Helper()
	if len(body) > bodyMaxBytes {
		t.Errorf("body is %d bytes, want at most %d", len(body), bodyMaxBytes)
	}
	if len(body) < bodyMaxBytes-5000 {
		t.Errorf("body is %d bytes: cut more than needed", len(body))
	}
	for _, s := range want {
		if !strings.Contains(body, s) {
			t.Errorf("body lacks %q", s)
		}
	}
	if !strings.HasSuffix(body, "<!-- medic:incident=inc-20261125-checkout intent=set_resources -->\n") {
		t.Error("no footer marker")
	}
	bodyCheckFences(t, body)
}

// TestBodyPathological: everything at once far too large still fits, with
// balanced fences and the marker.
func TestBodyPathological(t *testing.T) {
	r := bodyHostile()
	long := strings.Repeat("x@y <b>z</b> 𝄞<<<<", 1000)
	for i := range 300 {
		a := r.Incident.Anomalies[0]
		a.Signal, a.Summary = long, long
		r.Incident.Anomalies = append(r.Incident.Anomalies, a)
		r.Change.Files = append(r.Change.Files, patchers.FileChange{Path: fmt.Sprintf("f/%d.yaml", i), Diff: strings.Repeat("+"+long+"\n", 20)})
		r.Change.ChangedObjects = append(r.Change.ChangedObjects, patchers.Object{APIVersion: "v1", Kind: "ConfigMap", Name: long})
		r.Decision.Reasons = append(r.Decision.Reasons, long)
		r.Decision.Labels = append(r.Decision.Labels, long)
	}
	r.Proposal.Rationale = strings.Repeat("```\n"+long+"\n", 200)
	r.Change.Summary = long
	r.Change.RenderedDiff = strings.Repeat("+"+long+"\n", 400)
	body := Body(r)
	if len(body) > bodyMaxBytes {
		t.Errorf("body is %d bytes, want at most %d", len(body), bodyMaxBytes)
	}
	bodyCheckFences(t, body)
	if !strings.HasSuffix(body, "<!-- medic:incident=inc-20261125-checkout intent=set_resources -->\n") {
		t.Error("no footer marker")
	}
	// Comments have the same limit.
	e := Explain(r)
	if len(e) > 65536 {
		t.Errorf("explanation is %d bytes", len(e))
	}
	t.Logf("body %d bytes, explanation %d bytes", len(body), len(e))
}

func TestBodyHostileRationale(t *testing.T) {
	r := bodyHostile()
	for _, out := range []string{Body(r), Explain(r)} {
		for _, bad := range []string{"@acme", "@octocat", "<img", "<b>", "<details><summary>nothing", "<script", "<div", "onerror=alert(2)>\n", "inc-other", "[^1]", "<!-- hidden"} {
			if strings.Contains(out, bad) {
				t.Errorf("output contains %q", bad)
			}
		}
		if strings.Count(out, "<!--") > 1 {
			t.Error("an HTML comment besides the footer marker")
		}
		// Mentions are kept readable, with a zero-width joiner after @.
		if !strings.Contains(out, "@\u200dacme/sre-team") || !strings.Contains(out, "@\u200doctocat") {
			t.Error("mentions not neutralised with a zero-width joiner")
		}
		bodyCheckFences(t, out)
	}
	body := Body(r)
	// The rationale's unclosed fence is closed inside the quote: the
	// sections after it are not code.
	quote := body[strings.Index(body, "Rationale (written by a language model"):strings.Index(body, "### Source diff")]
	if !strings.Contains(quote, "> ```yaml\n") || !strings.Contains(quote, "\n> ```\n") {
		t.Errorf("rationale fence not balanced inside the quote:\n%s", quote)
	}
	if !strings.Contains(quote, "hidden instructions") || !strings.Contains(quote, "still inside a div") {
		t.Error("text around stripped tags was lost")
	}
	if !strings.HasSuffix(body, "<!-- medic:incident=inc-20261125-checkout intent=set_resources -->\n") {
		t.Error("the footer marker is not the last line")
	}
	// A long rationale is capped, even when what is left after HTML is
	// stripped is short.
	for _, rat := range []string{strings.Repeat("word ", 3000), strings.Repeat("<b></b>", 20000) + "tail"} {
		r.Proposal.Rationale = rat
		body = Body(r)
		if !strings.Contains(body, "> …(truncated)\n") {
			t.Error("long rationale not truncated")
		}
		bodyCheckFences(t, body)
	}
}

func TestBodySecretRedacted(t *testing.T) {
	r := bodySecret()
	r.Change.Summary = "set PAYMENTS_API_TOKEN from " + bodySecretOld + " to " + bodySecretNew
	r.Proposal.Rationale = "rotate " + bodySecretOld
	for name, out := range map[string]string{"body": Body(r), "explain": Explain(r), "title": Title(r), "commit": CommitMessage(r)} {
		for _, secret := range []string{bodySecretNew, bodySecretOld} {
			if strings.Contains(out, secret) {
				t.Errorf("%s contains %q", name, secret)
			}
		}
		if !strings.Contains(out, "<redacted>") {
			t.Errorf("%s does not say <redacted>", name)
		}
	}
	body := Body(r)
	for _, s := range []string{
		`{"kind":"set_env","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"},"params":{"name":"PAYMENTS_API_TOKEN","value":"<redacted>"}}`,
		"-              value: \"<redacted>\"\n+              value: \"<redacted>\"\n",
		"-              value: <redacted>\n+              value: <redacted>\n",
		"               value: info\n", // other variables are shown
	} {
		if !strings.Contains(body, s) {
			t.Errorf("body lacks %q", s)
		}
	}
	// A variable whose name does not look secret is shown.
	r.Proposal.Intent = bodyIntent(patchers.KindSetEnv, `{"name": "PAYMENTS_URL", "value": "`+bodySecretNew+`"}`)
	if !strings.Contains(Body(r), bodySecretNew) {
		t.Error("a value that is not secret was redacted")
	}
}

func TestBodyRedactorShortValue(t *testing.T) {
	rd := newRedactor(bodyIntent(patchers.KindSetEnv, `{"name": "db_password", "value": "ab1"}`), nil)
	d := "--- a/x.yaml\n+++ b/x.yaml\n@@ -1,3 +1,3 @@\n replicas: ab1\n - name: DB_PASSWORD\n-  value: old-secret\n+  value: ab1\n"
	got := rd.diff(d)
	want := "--- a/x.yaml\n+++ b/x.yaml\n@@ -1,3 +1,3 @@\n replicas: ab1\n - name: DB_PASSWORD\n-  value: <redacted>\n+  value: <redacted>\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestBodyFooterMarker(t *testing.T) {
	reqs := []Request{{}, bodyNoEvidence(), bodyHostile(), bodySecret(), bodyHuge()}
	// A hostile id cannot end the comment early.
	odd := bodyNoEvidence()
	odd.Incident.ID = "x --> <b>y</b>"
	reqs = append(reqs, odd)
	for i, r := range reqs {
		if e := Explain(r); e == "" {
			t.Errorf("request %d: empty explanation", i)
		}
		body := Body(r)
		want := "<!-- medic:incident=" + markerValue(r.Incident.ID) + " intent=" + r.Proposal.Intent.Kind + " -->\n"
		if !strings.HasSuffix(body, want) {
			t.Errorf("request %d: body does not end with %q", i, want)
		}
		if n := strings.Count(body, "<!-- medic:"); n != 1 {
			t.Errorf("request %d: %d markers", i, n)
		}
		if strings.Count(body[strings.LastIndex(body, "<!--"):], "-->") != 1 {
			t.Errorf("request %d: marker broken", i)
		}
	}
}

// Text that begins a line cannot start a block that swallows what
// follows.
func TestBodyTextStartsNoBlock(t *testing.T) {
	r := bodyNoEvidence()
	for _, s := range []string{"```", "~~~ x", "# heading", "> quote", "- item", "1. item", "3) item", "<!-- x", "[^1]: note", "| a | b |", "---"} {
		r.Change.Summary = s
		r.Decision.Reasons = []string{s}
		body := Body(r)
		bodyCheckFences(t, body)
		for l := range strings.SplitSeq(body, "\n") {
			l = strings.TrimPrefix(l, "- ")
			if l == s && s != "```" { // the body's own fences are checked above
				t.Errorf("%q reaches the body as a line of its own", s)
			}
		}
	}
	br := newBodyRenderer(Request{})
	for in, want := range map[string]string{"```x": "\\`\\`\\`x", "12. x": "12\\. x", "a [^1]": "a \\[^1\\]", "x < y": "x &lt; y"} {
		if got := br.text(in, 100); got != want {
			t.Errorf("text(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBodyMermaid(t *testing.T) {
	ev := func(n int, step time.Duration, f func(i int) float64) []detect.EvidencePoint {
		pts := make([]detect.EvidencePoint, n)
		for i := range pts {
			pts[i] = detect.EvidencePoint{T: bodyT0.Add(time.Duration(i) * step), V: f(i)}
		}
		return pts
	}
	cases := map[string][]detect.EvidencePoint{
		"one point":  ev(1, time.Minute, func(int) float64 { return 3 }),
		"seconds":    ev(30, 15*time.Second, func(i int) float64 { return float64(i) / 3 }),
		"sub-second": ev(10, 250*time.Millisecond, func(i int) float64 { return -float64(i) * 1e-7 }),
		"days":       ev(500, 7*time.Minute, func(i int) float64 { return 1e12 + float64(i)*0.123456789 }),
		"non-finite": ev(20, time.Minute, func(i int) float64 {
			switch i % 4 {
			case 1:
				return math.NaN()
			case 2:
				return math.Inf(1 - 2*(i%8/4))
			}
			return 0.30000000000000004 * float64(i)
		}),
		"same times": {{T: bodyT0, V: 1}, {T: bodyT0, V: 2}, {T: bodyT0.Add(time.Minute), V: 3}},
	}
	for name, pts := range cases {
		t.Run(name, func(t *testing.T) {
			r := bodyNoEvidence()
			r.Incident.Anomalies[0].Signal = "weird \"signal\"\nname %%{init: {}}%% `md` #quot; <b>"
			r.Incident.Anomalies[0].Evidence = pts
			body := Body(r)
			bodyCheckMermaid(t, body)
			if !strings.Contains(body, "```mermaid") {
				t.Fatal("no chart")
			}
		})
	}
}

var (
	bodyMermaidQuoted = regexp.MustCompile(`^"[^"\n%` + "`" + `<>]+"$`)
	bodyMermaidNumber = regexp.MustCompile(`^[+-]?(?:\d+(?:\.\d+)?|\.\d+)$`)
)

// bodyCheckMermaid checks every mermaid block against the xychart grammar
// Body relies on: the header, quoted title and axis titles without a
// double quote inside, as many x-axis labels (all distinct) as line
// values, numbers Mermaid's lexer accepts, at most chartMaxPoints.
func bodyCheckMermaid(t *testing.T, body string) {
	t.Helper()
	rest := body
	for {
		start := strings.Index(rest, "```mermaid\n")
		if start < 0 {
			return
		}
		rest = rest[start+len("```mermaid\n"):]
		end := strings.Index(rest, "\n```\n")
		if end < 0 {
			t.Fatal("mermaid block not closed")
		}
		lines := strings.Split(rest[:end], "\n")
		rest = rest[end:]
		if len(lines) != 5 || lines[0] != "xychart-beta" {
			t.Fatalf("mermaid block is not a 5-line xychart-beta:\n%s", strings.Join(lines, "\n"))
		}
		title, ok := strings.CutPrefix(lines[1], "    title ")
		if !ok || !bodyMermaidQuoted.MatchString(title) {
			t.Errorf("bad title line %q", lines[1])
		}
		xs, ok := strings.CutPrefix(lines[2], `    x-axis "time (UTC)" [`)
		xs, ok2 := strings.CutSuffix(xs, "]")
		if !ok || !ok2 {
			t.Fatalf("bad x-axis line %q", lines[2])
		}
		labels := strings.Split(xs, ", ")
		seen := map[string]bool{}
		for _, l := range labels {
			if !bodyMermaidQuoted.MatchString(l) {
				t.Errorf("bad x-axis label %q", l)
			}
			if seen[l] {
				t.Errorf("repeated x-axis label %s", l)
			}
			seen[l] = true
		}
		ytitle, ok := strings.CutPrefix(lines[3], "    y-axis ")
		if !ok || !bodyMermaidQuoted.MatchString(ytitle) {
			t.Errorf("bad y-axis line %q", lines[3])
		}
		vs, ok := strings.CutPrefix(lines[4], "    line [")
		vs, ok2 = strings.CutSuffix(vs, "]")
		if !ok || !ok2 {
			t.Fatalf("bad line %q", lines[4])
		}
		values := strings.Split(vs, ", ")
		for _, v := range values {
			if !bodyMermaidNumber.MatchString(v) || len(v) > 24 {
				t.Errorf("value %q is not a compact Mermaid number", v)
			}
		}
		if len(values) != len(labels) {
			t.Errorf("%d x-axis labels for %d values", len(labels), len(values))
		}
		if len(values) > chartMaxPoints {
			t.Errorf("%d points, want at most %d", len(values), chartMaxPoints)
		}
		if strings.Contains(rest[:0]+strings.Join(lines, "\n"), "NaN") || strings.Contains(strings.Join(lines, "\n"), "Inf") {
			t.Error("NaN or Inf in the chart")
		}
	}
}

// bodyCheckFences checks that every code fence, at the top level and in
// block quotes, is closed, and closed inside the quote it opened in.
func bodyCheckFences(t *testing.T, body string) {
	t.Helper()
	type fence struct {
		char byte
		n    int
	}
	parse := func(l string) (fence, string, bool) {
		s := strings.TrimLeft(l, " ")
		if len(l)-len(s) > 3 || len(s) < 3 || (s[0] != '`' && s[0] != '~') {
			return fence{}, "", false
		}
		n := 0
		for n < len(s) && s[n] == s[0] {
			n++
		}
		if n < 3 {
			return fence{}, "", false
		}
		return fence{s[0], n}, s[n:], true
	}
	var top, quote *fence
	opened, closed := 0, 0
	for i, l := range strings.Split(body, "\n") {
		inQuote := top == nil && strings.HasPrefix(l, ">")
		if quote != nil && !inQuote {
			t.Fatalf("line %d: a fence opened in a block quote is not closed in it", i+1)
		}
		cur := &top
		if inQuote {
			l = strings.TrimPrefix(strings.TrimPrefix(l, ">"), " ")
			cur = &quote
		}
		f, rest, ok := parse(l)
		if !ok {
			continue
		}
		switch {
		case *cur == nil && !(f.char == '`' && strings.Contains(rest, "`")):
			*cur = &f
			opened++
		case *cur != nil && f.char == (*cur).char && f.n >= (*cur).n && strings.TrimSpace(rest) == "":
			*cur = nil
			closed++
		}
	}
	if top != nil || quote != nil || opened != closed {
		t.Errorf("unbalanced code fences: %d opened, %d closed", opened, closed)
	}
}

func TestDownsample(t *testing.T) {
	pts := make([]detect.EvidencePoint, 1000)
	for i := range pts {
		pts[i] = detect.EvidencePoint{T: bodyT0.Add(time.Duration(i) * time.Second), V: float64(i % 10)}
	}
	pts[777].V = 99
	idx := downsample(pts, 60, 5)
	if len(idx) != 60 || idx[0] != 0 || idx[59] != 999 {
		t.Fatalf("got %d points from %d to %d", len(idx), idx[0], idx[len(idx)-1])
	}
	hasPeak := false
	for i, k := range idx {
		if i > 0 && k <= idx[i-1] {
			t.Fatalf("indexes not increasing: %v", idx)
		}
		hasPeak = hasPeak || k == 777
	}
	if !hasPeak {
		t.Error("peak dropped")
	}
	// A drop is the peak when it is farthest from the baseline.
	pts[777].V = 5
	pts[333].V = -1000
	if idx := downsample(pts, 60, 5); !containsInt(idx, 333) {
		t.Error("trough dropped")
	}
	if got := downsample(pts[:10], 60, 0); len(got) != 10 {
		t.Errorf("short series: got %d points", len(got))
	}
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestCompactNumber(t *testing.T) {
	for in, want := range map[float64]string{
		0:                     "0",
		851443712:             "851443712",
		0.30000000000000004:   "0.3",
		float64(float32(0.1)): "0.1",
		12345.678:             "12346",
		-0.000123456:          "-0.0001235",
		1e21:                  "1000000000000000000000",
		3.14159:               "3.142",
		-2:                    "-2",
		math.Copysign(0, -1):  "0",
	} {
		if got := compactNumber(in); got != want {
			t.Errorf("compactNumber(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestTimeLabels(t *testing.T) {
	at := func(d ...time.Duration) []time.Time {
		var ts []time.Time
		for _, x := range d {
			ts = append(ts, bodyT0.Add(x))
		}
		return ts
	}
	for _, c := range []struct {
		ts   []time.Time
		want string
	}{
		{at(0, time.Minute), "10:30 10:31"},
		{at(0, 30*time.Second), "10:30:00 10:30:30"},
		{at(0, 500*time.Millisecond), "10:30:00.000 10:30:00.500"},
		{at(0, 20*time.Hour), "11-25_10:30 11-26_06:30"},
		{at(0, 0, time.Minute), "10:30 10:30_(2) 10:31"},
	} {
		got := strings.ReplaceAll(strings.Join(timeLabels(c.ts), " "), "-25 ", "-25_")
		got = strings.ReplaceAll(strings.ReplaceAll(got, "-26 ", "-26_"), " (", "_(")
		if got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}

func TestWaterLevel(t *testing.T) {
	sizes := []int{100, 1000, 5000}
	if got := waterLevel(sizes, -1, 4500); got != 750 { // 100 + 750 + 750 = 6100 - 4500
		t.Errorf("got %d, want 750", got)
	}
	if got := waterLevel(sizes, -1, 3000); got != 2000 { // 100 + 1000 + 2000: only the largest is cut
		t.Errorf("got %d, want 2000", got)
	}
	if got := waterLevel(sizes, -1, 10000); got != 0 {
		t.Errorf("got %d, want 0", got)
	}
}

func TestWriteFencedBacktickRuns(t *testing.T) {
	var b strings.Builder
	writeFenced(&b, "diff", "+```\n+````` x\n")
	if got := b.String(); !strings.HasPrefix(got, "``````diff\n") || !strings.HasSuffix(got, "\n``````\n") {
		t.Errorf("got %q", got)
	}
}

// TestUntrusted: nothing in untrusted text is live on GitHub, and it still
// reads as what was sent.
func TestUntrusted(t *testing.T) {
	zwj := "\u200d"
	for _, c := range []struct{ in, want string }{
		{"see https://evil.example/x?a=1", "see `https://evil.example/x?a=1`"},
		{"ftp://host/f and javascript:alert(1)", "`ftp://host/f` and javascript:alert(1)"},
		{"visit www.evil.example now", "visit `www.evil.example` now"},
		{"mail ops@evil.example", "mail `ops@evil.example`"},
		{"<https://evil.example>", "&lt;`https://evil.example`>"},
		{"[click](https://evil.example)", `\[click\](` + "`https://evil.example)`"},
		{"![pixel](https://evil.example/p.png)", `!\[pixel\](` + "`https://evil.example/p.png)`"},
		{"[ref]: /x", `\[ref\]: /x`},
		{"<img src=x> <!-- hidden -->", "&lt;img src=x> &lt;!-- hidden -->"},
		{"&#64;octocat &commat;octocat &amp;", `\&#` + zwj + `64;octocat \&commat;octocat \&amp;`},
		{"cc @octocat and @acme/sre", "cc @" + zwj + "octocat and @" + zwj + "acme/sre"},
		{"fixes #12, acme/infra#3, GH-7", "fixes #" + zwj + "12, acme/infra#" + zwj + "3, GH-" + zwj + "7"},
		{"https://github.com/acme/infra/issues/3", "`https://github.com/acme/infra/issues/3`"},
		{"`code` and \\`", "\\`code\\` and \\\\\\`"},
		{"</details> ``` ~~~", `&lt;/details> \` + "`" + `\` + "`" + `\` + "` ~~~"},
		{"memory limit 512Mi -> 4Gi is 8x (above 2x)", ""},
		{"p95 latency 1.2s at 10:30:00Z; sha256:ab12 4b825dc6", ""},
	} {
		want := c.want
		if want == "" {
			want = c.in
		}
		if got := Untrusted(c.in); got != want {
			t.Errorf("Untrusted(%q)\n got %q\nwant %q", c.in, got, want)
		}
	}
	// Credentials are scrubbed in bodies and comments.
	tok := "ghs_" + strings.Repeat("Tk3n", 9)
	r := bodyNoEvidence()
	r.Proposal.Rationale = "saw Authorization: token " + tok
	r.Incident.Anomalies[0].Summary = "log line " + tok
	for name, out := range map[string]string{"body": Body(r), "explain": Explain(r), "text": Text(tok, 100), "code": Code(tok)} {
		if strings.Contains(out, tok) {
			t.Errorf("%s carries the token", name)
		}
	}
}

// TestBodyCommands: the /medic commands are listed only where the forge
// runs them, and the body promises no verification medic does not do.
func TestBodyCommands(t *testing.T) {
	r := bodyMemoryLeak()
	local := Body(r)
	r.Commands = true
	gh := Body(r)
	bodyGolden(t, "memory_leak.commands.md", gh)
	for _, s := range []string{"`/medic revert`", "`/medic explain`", "`/medic retry`: try the merge again", "`/medic close`"} {
		if !strings.Contains(gh, s) {
			t.Errorf("GitHub body lacks %q", s)
		}
		if strings.Contains(local, s) {
			t.Errorf("local body lists %q", s)
		}
	}
	for _, body := range []string{local, gh} {
		for _, lie := range []string{"medic watches", "opens a revert itself", "plan the change again"} {
			if strings.Contains(body, lie) {
				t.Errorf("body promises %q", lie)
			}
		}
	}
}

// TestTitleInert: a summary built from repository text cannot make the
// title reference an issue or mention anyone.
func TestTitleInert(t *testing.T) {
	r := bodyHostile()
	r.Change.Summary = "bump acme/infra#12 for @octocat, see #7 and GH-3"
	got := Title(r)
	for _, bad := range []string{"#12", "@octocat", "#7", "GH-3"} {
		if strings.Contains(got, bad) {
			t.Errorf("title %q contains %q", got, bad)
		}
	}
	if want := "medic: bump acme/infra#\u200d12 for @\u200doctocat, see #\u200d7 and GH-\u200d3"; got != want {
		t.Errorf("title = %q, want %q", got, want)
	}
}

package crew

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/medic-bot/medic/bot/incident"
	"github.com/medic-bot/medic/detect"
	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/history"
	"github.com/medic-bot/medic/patchers/registry"
)

// gitRepo is a real git repository in a temporary folder, committed with
// chosen commit times.
type gitRepo struct {
	t    *testing.T
	dir  string
	repo *git.Repository
}

func newGitRepo(t *testing.T) *gitRepo {
	t.Helper()
	dir := t.TempDir()
	r, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	return &gitRepo{t: t, dir: dir, repo: r}
}

// fixture copies fixtures/repos/<name> to folder sub of the repository.
func (g *gitRepo) fixture(name, sub string) {
	g.t.Helper()
	if err := os.CopyFS(filepath.Join(g.dir, sub), os.DirFS(filepath.Join("..", "..", "fixtures", "repos", name))); err != nil {
		g.t.Fatal(err)
	}
}

func (g *gitRepo) write(name, content string) {
	g.t.Helper()
	p := filepath.Join(g.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		g.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		g.t.Fatal(err)
	}
}

// replace replaces old (which must occur) in a file.
func (g *gitRepo) replace(name, old, new string) {
	g.t.Helper()
	b, err := os.ReadFile(filepath.Join(g.dir, filepath.FromSlash(name)))
	if err != nil {
		g.t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		g.t.Fatalf("%s does not hold %q", name, old)
	}
	g.write(name, strings.Replace(string(b), old, new, 1))
}

// commit commits everything at time when.
func (g *gitRepo) commit(msg string, when time.Time) plumbing.Hash {
	g.t.Helper()
	wt, err := g.repo.Worktree()
	if err != nil {
		g.t.Fatal(err)
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		g.t.Fatal(err)
	}
	sig := &object.Signature{Name: "test", Email: "test@example.com", When: when}
	h, err := wt.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		g.t.Fatal(err)
	}
	return h
}

func (g *gitRepo) view(sub string) *GitView {
	g.t.Helper()
	v, err := NewRepoView(ViewOptions{Git: g.repo, Dir: sub})
	if err != nil {
		g.t.Fatal(err)
	}
	return v
}

var checkoutProd = patchers.Target{Namespace: "shop", Kind: "Deployment", Name: "checkout"}

// kustomizeHistory is the kustomize fixture with a history: the first
// commit, a release of checkout's image, an env change, an unrelated
// commit to cart, a README edit and an HPA change, an hour apart.
func kustomizeHistory(t *testing.T) (*gitRepo, map[string]plumbing.Hash) {
	g := newGitRepo(t)
	g.fixture("kustomize", ".")
	h := map[string]plumbing.Hash{}
	h["init"] = g.commit("add the shop", at(0))
	g.replace("overlays/prod/kustomization.yaml", "newTag: 1.4.2", "newTag: 1.5.0")
	h["release"] = g.commit("release checkout 1.5.0\n\nWith the new cache.", at(60))
	g.replace("base/checkout.yaml", "value: info", "value: s3cr3t-debug-value")
	h["env"] = g.commit("debug logs for checkout", at(120))
	g.replace("base/cart.yaml", "memory: 256Mi", "memory: 300Mi")
	h["cart"] = g.commit("more memory for cart", at(180))
	g.replace("README.md", "kustomize", "Kustomize")
	h["readme"] = g.commit("docs", at(240))
	g.replace("base/checkout-hpa.yaml", "maxReplicas: 6", "maxReplicas: 8")
	h["hpa"] = g.commit("let checkout scale further", at(300))
	return g, h
}

// TestGitViewKustomize reads the kustomize fixture's history through one
// view (its renders are cached per tree; each costs a sandboxed kustomize
// build).
func TestGitViewKustomize(t *testing.T) {
	g, h := kustomizeHistory(t)
	v := g.view("")
	t.Run("Target", func(t *testing.T) { testTarget(t, v) })
	t.Run("Commits", func(t *testing.T) { testCommits(t, v, h) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, v) })
}

func testTarget(t *testing.T, v *GitView) {
	f, err := v.Target(context.Background(), patchers.Target{Namespace: "shop", Kind: "Deployment", Name: "checkout", Container: "ignored"})
	if err != nil {
		t.Fatal(err)
	}
	if f.Dir != "overlays/prod" || f.Target.Container != "" {
		t.Errorf("dir %q target %s", f.Dir, f.Target)
	}
	if f.Replicas == nil || *f.Replicas != 2 {
		t.Errorf("replicas %v, want 2", f.Replicas)
	}
	app, ok := f.Container("app")
	if !ok || app.Image != "registry.example.com/shop/checkout:1.5.0" || app.Limits["memory"] != "512Mi" || app.Limits["cpu"] != "1" ||
		app.Requests["cpu"] != "500m" || app.Requests["memory"] != "384Mi" || len(app.Env) != 1 || app.Env[0].Name != "LOG_LEVEL" {
		t.Errorf("app = %+v", app)
	}
	side, ok := f.Container("log-shipper")
	if !ok || side.Limits["memory"] != "64Mi" || side.Image != "registry.example.com/infra/log-shipper:2.1.0" {
		t.Errorf("log-shipper = %+v", side)
	}
	if f.HPA == nil || f.HPA.Name != "checkout" || f.HPA.MinReplicas != 2 || f.HPA.MaxReplicas != 8 || f.HPA.TargetCPUUtilizationPercentage == nil || *f.HPA.TargetCPUUtilizationPercentage != 70 {
		t.Errorf("hpa = %+v", f.HPA)
	}
	b, _ := json.Marshal(f)
	if strings.Contains(string(b), "s3cr3t") {
		t.Errorf("an env value reached the facts' JSON: %s", b)
	}
	cart, err := v.Target(context.Background(), patchers.Target{Namespace: "shop", Kind: "Deployment", Name: "cart"})
	if err != nil || cart.HPA != nil || cart.Replicas == nil || *cart.Replicas != 3 {
		t.Errorf("cart = %+v, %v; want 3 replicas and no HPA", cart, err)
	}
	_, err = v.Target(context.Background(), patchers.Target{Namespace: "shop", Kind: "Deployment", Name: "nope"})
	if !errors.Is(err, patchers.ErrNotFound) {
		t.Errorf("missing target: %v, want ErrNotFound", err)
	}
}

func testCommits(t *testing.T, v *GitView, h map[string]plumbing.Hash) {
	ctx := context.Background()
	cs, err := v.Commits(ctx, checkoutProd, time.Time{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cs {
		got = append(got, c.Subject)
	}
	want := []string{"let checkout scale further", "debug logs for checkout", "release checkout 1.5.0", "add the shop"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("commits %q, want %q (the cart and README commits do not touch checkout)", got, want)
	}
	byHash := map[string]Commit{}
	for _, c := range cs {
		byHash[c.Hash] = c
	}
	rel := byHash[h["release"].String()]
	if !rel.Time.Equal(at(60)) || rel.Message != "release checkout 1.5.0\n\nWith the new cache." ||
		len(rel.Changes) != 1 || rel.Changes[0] != (FieldChange{Area: AreaImage, Container: "app", Field: "image", Before: "registry.example.com/shop/checkout:1.4.2", After: "registry.example.com/shop/checkout:1.5.0"}) {
		t.Errorf("release commit = %+v", rel)
	}
	env := byHash[h["env"].String()]
	if len(env.Changes) != 1 || env.Changes[0] != (FieldChange{Area: AreaEnv, Container: "app", Field: "LOG_LEVEL", Before: "set", After: "set"}) {
		t.Errorf("env commit = %+v", env.Changes)
	}
	hpa := byHash[h["hpa"].String()]
	if len(hpa.Changes) != 1 || hpa.Changes[0] != (FieldChange{Area: AreaHPA, Field: "maxReplicas", Before: "6", After: "8"}) {
		t.Errorf("hpa commit = %+v", hpa.Changes)
	}
	if c := byHash[h["init"].String()]; len(c.Changes) != 1 || c.Changes[0].Area != AreaCreated {
		t.Errorf("first commit = %+v", c.Changes)
	}
	b, _ := json.Marshal(cs)
	if strings.Contains(string(b), "s3cr3t") {
		t.Errorf("an env value reached the commits' JSON: %s", b)
	}

	// Event time, not the wall clock: the env commit at 120 is not before 120.
	cs, err = v.Commits(ctx, checkoutProd, at(120), 10)
	if err != nil || len(cs) != 2 || cs[0].Hash != h["release"].String() {
		t.Errorf("commits until 120: %+v, %v; want the release and the first", cs, err)
	}
	cs, err = v.Commits(ctx, checkoutProd, time.Time{}, 1)
	if err != nil || len(cs) != 1 || cs[0].Hash != h["hpa"].String() {
		t.Errorf("commits n=1: %+v, %v", cs, err)
	}
	// The cart commit touches cart only.
	cs, err = v.Commits(ctx, patchers.Target{Namespace: "shop", Kind: "Deployment", Name: "cart"}, time.Time{}, 10)
	if err != nil || len(cs) != 2 || cs[0].Changes[0] != (FieldChange{Area: AreaResources, Container: "app", Field: "limits.memory", Before: "256Mi", After: "300Mi"}) {
		t.Errorf("cart commits: %+v, %v", cs, err)
	}
}

func TestGitViewBase(t *testing.T) {
	g, h := kustomizeHistory(t)
	v, err := NewRepoView(ViewOptions{Git: g.repo, Base: h["release"]})
	if err != nil {
		t.Fatal(err)
	}
	if v.Base() != h["release"].String() {
		t.Errorf("Base() = %s", v.Base())
	}
	f, err := v.Target(context.Background(), checkoutProd)
	if err != nil || f.HPA == nil || f.HPA.MaxReplicas != 6 {
		t.Errorf("target at the release commit: %+v, %v; want the HPA's max of then, 6", f.HPA, err)
	}
	cs, err := v.Commits(context.Background(), checkoutProd, time.Time{}, 10)
	if err != nil || len(cs) != 2 {
		t.Errorf("commits from the release commit back: %+v, %v", cs, err)
	}
}

func TestGitViewBoundedWalk(t *testing.T) {
	g := newGitRepo(t)
	g.fixture("manifests", ".")
	g.commit("init", at(0))
	g.replace("shop/checkout.yaml", "checkout:1.14.2", "checkout:1.15.0")
	g.commit("release checkout 1.15.0, a long message", at(10))
	for i := range 3 {
		g.write("notes.txt", strings.Repeat("x", i+1))
		g.commit("notes", at(20+i))
	}
	v, err := NewRepoView(ViewOptions{Git: g.repo, History: HistoryConfig{MaxCommits: 4, MaxMessageBytes: 10}})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := v.Commits(context.Background(), checkoutProd, time.Time{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	// Four commits walked back: three notes and the release, not the first.
	if len(cs) != 1 || cs[0].Subject != "release checkout 1.15.0, a long message" || cs[0].Message != "release ch" {
		t.Errorf("bounded walk: %+v", cs)
	}
}

func TestGitViewHelm(t *testing.T) {
	g := newGitRepo(t)
	g.fixture("helm", ".")
	g.commit("add the chart", at(0))
	g.replace("environments/prod/values.yaml", "memory: 768Mi", "memory: 1Gi")
	g.commit("prod checkout memory", at(10))
	g.replace("charts/shop/values.yaml", `tag: "1.8.0"`, `tag: "1.9.0"`)
	g.commit("checkout 1.9.0", at(20))
	v := g.view("")
	f, err := v.Target(context.Background(), checkoutProd)
	if err != nil {
		t.Fatal(err)
	}
	app, _ := f.Container("app")
	if f.Replicas != nil || f.HPA == nil || f.HPA.MinReplicas != 3 || f.HPA.MaxReplicas != 10 || app.Limits["memory"] != "1Gi" || app.Image != "ghcr.io/acme/checkout:1.9.0" {
		t.Errorf("helm facts: replicas %v hpa %+v app %+v", f.Replicas, f.HPA, app)
	}
	cs, err := v.Commits(context.Background(), checkoutProd, time.Time{}, 10)
	if err != nil || len(cs) != 3 {
		t.Fatalf("helm commits: %+v, %v", cs, err)
	}
	if cs[0].Changes[0].Area != AreaImage || cs[1].Changes[0] != (FieldChange{Area: AreaResources, Container: "app", Field: "limits.memory", Before: "768Mi", After: "1Gi"}) {
		t.Errorf("helm changes: %+v / %+v", cs[0].Changes, cs[1].Changes)
	}
}

// TestGitViewManifestsSubfolder reads the manifests fixture as the folder
// infra/ of a larger repository: commits outside it are not read, config
// objects and other fields are seen, and the folder's first commit is the
// one that created the target.
func TestGitViewManifestsSubfolder(t *testing.T) {
	g := newGitRepo(t)
	g.write("app/main.go", "package main\n")
	g.commit("the app", at(0))
	g.fixture("manifests", "infra")
	g.commit("add infra", at(10))
	g.replace("infra/shop/checkout.yaml", "          env:\n", "          envFrom:\n            - configMapRef:\n                name: checkout-config\n          env:\n")
	g.replace("infra/shop/checkout.yaml", "---\napiVersion: v1\nkind: Service", "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: checkout-config\n  namespace: shop\ndata:\n  MODE: calm\n---\napiVersion: v1\nkind: Service")
	g.commit("config for checkout", at(20))
	g.replace("infra/shop/checkout.yaml", "MODE: calm", "MODE: wild")
	g.commit("wild mode", at(30))
	g.replace("infra/shop/checkout.yaml", "          ports:\n", "          args: [--fast]\n          ports:\n")
	g.commit("fast flag", at(40))
	g.write("app/main.go", "package main // changed\n")
	g.commit("app change", at(50))

	v := g.view("infra")
	f, err := v.Target(context.Background(), checkoutProd)
	if err != nil {
		t.Fatal(err)
	}
	app, _ := f.Container("app")
	if len(app.Env) != 2 || app.Env[1].Name != "DB_PASSWORD" || app.Env[1].From != "secretKeyRef" {
		t.Errorf("env = %+v", app.Env)
	}
	if len(f.Config) != 1 || f.Config[0].Kind != "ConfigMap" || f.Config[0].Name != "checkout-config" {
		t.Errorf("config = %+v", f.Config)
	}
	if f.HPA == nil || f.HPA.MaxReplicas != 10 {
		t.Errorf("hpa = %+v", f.HPA)
	}
	cs, err := v.Commits(context.Background(), checkoutProd, time.Time{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cs {
		got = append(got, c.Subject+": "+describeChanges(c.Changes))
	}
	want := []string{
		"fast flag: other args of app",
		"wild mode: config ConfigMap/checkout-config",
		"config for checkout: other envFrom of app, config ConfigMap/checkout-config",
		"add infra: created",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("commits:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestGitViewErrors(t *testing.T) {
	if _, err := NewRepoView(ViewOptions{}); err == nil {
		t.Error("a view of nothing was built")
	}
	g := newGitRepo(t)
	g.fixture("manifests", ".")
	g.commit("init", at(0))
	if _, err := NewRepoView(ViewOptions{Git: g.repo, Dir: "../x"}); err == nil || !strings.Contains(err.Error(), "../x") {
		t.Errorf("outside folder: %v", err)
	}
	if _, err := NewRepoView(ViewOptions{Git: g.repo, History: HistoryConfig{MaxCommits: -1}}); err == nil || !strings.Contains(err.Error(), "max_commits") {
		t.Errorf("bad history config: %v", err)
	}
	noGit, err := NewRepoView(ViewOptions{FS: os.DirFS(g.dir)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := noGit.Commits(context.Background(), checkoutProd, time.Time{}, 5); err == nil {
		t.Error("Commits without history succeeded")
	}
	if _, err := noGit.Target(context.Background(), checkoutProd); err != nil {
		t.Errorf("Target without history: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.view("").Commits(ctx, checkoutProd, time.Time{}, 5); err == nil {
		t.Error("Commits ran on a cancelled context")
	}
}

func testConcurrent(t *testing.T, v *GitView) {
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			var err error
			if i%2 == 0 {
				_, err = v.Target(context.Background(), checkoutProd)
			} else {
				var cs []Commit
				cs, err = v.Commits(context.Background(), checkoutProd, time.Time{}, 10)
				if err == nil && len(cs) != 4 {
					err = errors.New("wrong commit count")
				}
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// TestPlaybookOnRealHistory runs the playbook on the kustomize fixture's
// history: memory growth that starts after the release commit is a leak,
// and the rollback it proposes plans with the history patcher to the image
// before the release.
func TestPlaybookOnRealHistory(t *testing.T) {
	g := newGitRepo(t)
	g.fixture("manifests", ".")
	g.commit("add the shop", at(0))
	g.replace("shop/checkout.yaml", "checkout:1.14.2", "checkout:1.15.0")
	g.commit("release checkout 1.15.0", at(60))
	v := g.view("")
	w := detect.Workload{Namespace: "shop", Kind: "Deployment", Name: "checkout", Container: "app"}
	in := incident.Incident{ID: "shop-checkout-1", Workload: w, Opened: at(150), Anomalies: []detect.Anomaly{
		{Workload: w, Signal: "container.memory.working_set", Kind: detect.KindScore, Detector: "score", Onset: at(90), At: at(150), Score: 0.9, Observed: 500e6, Baseline: 300e6, Summary: "drifted"},
		{Workload: w, Signal: "k8s.event:oom_killed", Kind: detect.KindEvent, Detector: "events", Onset: at(170), At: at(171), Score: 1, Observed: 1, Summary: "container app OOMKilled"},
	}}
	pb, _ := NewPlaybook(DefaultPlaybookConfig())
	ps, err := pb.Suggest(context.Background(), in, v)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Intent.Kind != patchers.KindRollbackImage || ps[0].Intent.Target.Container != "app" || ps[0].Source != "playbook/memory_leak" {
		t.Fatalf("proposals %+v", ps)
	}
	p, err := registry.For(v.FS(), ".")
	if err != nil {
		t.Fatal(err)
	}
	ch, err := history.Wrap(p, g.repo).Plan(context.Background(), v.FS(), ps[0].Intent)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ch.RenderedDiff, "+          image: ghcr.io/acme/checkout:1.14.2") {
		t.Errorf("the rollback does not plan back to 1.14.2:\n%s", ch.RenderedDiff)
	}

	// The sidecar's OOM: the release of app's image does not explain
	// it, and the sidecar's limit is stepped.
	ws := w
	ws.Container = "envoy"
	in.Anomalies = []detect.Anomaly{{Workload: ws, Signal: "k8s.event:oom_killed", Kind: detect.KindEvent, Detector: "events", Onset: at(70), At: at(71), Score: 1, Observed: 1, Summary: "container envoy OOMKilled"}}
	ps, err = pb.Suggest(context.Background(), in, v)
	if err != nil || len(ps) != 1 || ps[0].Intent.Target.Container != "envoy" || string(ps[0].Intent.Params) != `{"limits":{"memory":"192Mi"}}` {
		t.Fatalf("sidecar: %+v, %v", ps, err)
	}
	ch, err = p.Plan(context.Background(), v.FS(), ps[0].Intent)
	if err != nil || !strings.Contains(ch.RenderedDiff, "+              memory: 192Mi") {
		t.Errorf("the sidecar step does not plan: %v\n%s", err, ch.RenderedDiff)
	}
}

func TestOpenRepoView(t *testing.T) {
	g := newGitRepo(t)
	g.fixture("manifests", "infra")
	g.commit("add infra", at(0))
	g.replace("infra/shop/checkout.yaml", "checkout:1.14.2", "checkout:9.9.9") // uncommitted
	v, err := OpenRepoView(filepath.Join(g.dir, "infra", "shop"), ViewOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := v.Target(context.Background(), checkoutProd)
	if err != nil {
		t.Fatal(err)
	}
	if app, _ := f.Container("app"); app.Image != "ghcr.io/acme/checkout:1.14.2" || f.Dir != "." {
		t.Errorf("image %s dir %s: want HEAD's image, read at infra/shop", app.Image, f.Dir)
	}
	if _, err := OpenRepoView(t.TempDir(), ViewOptions{}); err == nil {
		t.Error("a folder outside any repository opened")
	}
}

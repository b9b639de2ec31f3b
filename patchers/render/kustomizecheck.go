package render

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
)

// checkLocal walks every kustomization reachable from dir and checks every
// field that names something to load, before krusty runs: each must be a
// path inside the repository. krusty's loader fetches a URL given to any
// of them over HTTP, and clones (running git) any reference that parses as
// a git repository, so a field left out of this walk is a hole; it follows
// kustomize's own Kustomization type, its
// deprecated fields included (bases, patchesJson6902, patchesStrategicMerge are
// checked as written, so the error names the field the file uses). helmCharts, helmGlobals and
// helmChartInflationGenerator are refused (they run the helm binary and
// fetch charts). transformers, generators and validators entries are
// plugin configurations, inline or in files or kustomization folders:
// each must be a kustomize builtin without a KRM function annotation, and
// its own path fields are checked the same way.
func (l Limits) checkLocal(repo fs.FS, dir string) error {
	w := refWalk{repo: repo, limits: l, seen: map[string]bool{}}
	return w.kustomization(dir, false)
}

type refWalk struct {
	repo   fs.FS
	limits Limits
	seen   map[string]bool
}

// fileFields are the kustomization fields whose entries are files.
// dirFields may also name kustomization folders; pluginFields hold plugin
// configurations.
var (
	pluginFields = []string{"generators", "transformers", "validators"}
)

func (w *refWalk) kustomization(dir string, plugins bool) error {
	key := fmt.Sprint(dir, plugins)
	if w.seen[key] {
		return nil
	}
	w.seen[key] = true
	file, ok := KustomizationFile(w.repo, dir)
	if !ok {
		return fmt.Errorf("no kustomization.yaml in %s", dir)
	}
	data, err := w.read(file)
	if err != nil {
		return err
	}
	var k types.Kustomization
	if err := k.Unmarshal(data); err != nil {
		return fmt.Errorf("parse %s: %w", file, err)
	}
	var errs []error
	bad := func(field string, err error) {
		var n nested
		if errors.As(err, &n) {
			errs = append(errs, n.err)
			return
		}
		errs = append(errs, fmt.Errorf("%s: %s: %w", file, field, err))
	}
	if len(k.HelmCharts) > 0 || k.HelmGlobals != nil || len(k.HelmChartInflationGenerator) > 0 {
		errs = append(errs, fmt.Errorf("%s: helmCharts is not supported (it runs the helm binary and fetches charts); render the chart with the helm patcher", file))
	}
	entries := func(field string, refs []string, asDir, plugin bool) {
		for _, ref := range refs {
			if plugin && strings.Contains(ref, "\n") {
				if err := w.pluginConfigs(dir, "inline", []byte(ref)); err != nil {
					bad(field, err)
				}
				continue
			}
			if err := w.entry(dir, ref, asDir, plugin); err != nil {
				bad(field, err)
			}
		}
	}
	entries("resources", k.Resources, true, plugins)
	entries("bases", k.Bases, true, plugins)
	entries("components", k.Components, true, false)
	for _, f := range pluginFields {
		var refs []string
		switch f {
		case "generators":
			refs = k.Generators
		case "transformers":
			refs = k.Transformers
		case "validators":
			refs = k.Validators
		}
		entries(f, refs, true, true)
	}
	entries("crds", k.Crds, false, false)
	entries("configurations", k.Configurations, false, false)
	if p := k.OpenAPI["path"]; p != "" {
		entries("openapi.path", []string{p}, false, false)
	}
	for i, p := range k.Patches {
		if p.Path != "" {
			entries(fmt.Sprintf("patches[%d].path", i), []string{p.Path}, false, false)
		}
	}
	for i, p := range k.PatchesJson6902 {
		if p.Path != "" {
			entries(fmt.Sprintf("patchesJson6902[%d].path", i), []string{p.Path}, false, false)
		}
	}
	for i, p := range k.PatchesStrategicMerge {
		if s := string(p); !strings.Contains(s, "\n") {
			if err := w.patchRef(dir, s); err != nil {
				bad(fmt.Sprintf("patchesStrategicMerge[%d]", i), err)
			}
		}
	}
	for i, r := range k.Replacements {
		if r.Path != "" {
			entries(fmt.Sprintf("replacements[%d].path", i), []string{r.Path}, false, false)
		}
	}
	gens := func(field string, i int, src types.KvPairSources) {
		entries(fmt.Sprintf("%s[%d].files", field, i), fileSources(src.FileSources), false, false)
		entries(fmt.Sprintf("%s[%d].envs", field, i), src.EnvSources, false, false)
		if src.EnvSource != "" {
			entries(fmt.Sprintf("%s[%d].env", field, i), []string{src.EnvSource}, false, false)
		}
	}
	for i, g := range k.ConfigMapGenerator {
		gens("configMapGenerator", i, g.KvPairSources)
	}
	for i, g := range k.SecretGenerator {
		gens("secretGenerator", i, g.KvPairSources)
	}
	return errors.Join(errs...)
}

// nested carries the errors of a kustomization reached from another one;
// they name their own file.
type nested struct{ err error }

func (n nested) Error() string { return n.err.Error() }

// fileSources strips the "key=" of generator file sources.
func fileSources(srcs []string) []string {
	out := make([]string, len(srcs))
	for i, s := range srcs {
		if _, p, ok := strings.Cut(s, "="); ok {
			s = p
		}
		out[i] = s
	}
	return out
}

// read reads a repository file that is about to be parsed.
func (w *refWalk) read(file string) ([]byte, error) {
	data, err := fs.ReadFile(w.repo, file)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > w.limits.MaxInputBytes {
		return nil, limitError("read "+file, "max_input_bytes", w.limits.MaxInputBytes)
	}
	if err := w.limits.CheckYAML(file, data); err != nil {
		return nil, err
	}
	return data, nil
}

// local returns where ref, given in a kustomization in dir, points inside
// the repository, or why it does not.
func local(dir, ref string) (string, error) {
	if isRemote(ref) {
		return "", fmt.Errorf("remote resource %q is not supported (no network: a URL or git repository is never fetched); vendor it into the repository", ref)
	}
	if path.IsAbs(ref) {
		return "", fmt.Errorf("%q is an absolute path, outside the repository", ref)
	}
	target := path.Join(dir, ref)
	if target == ".." || strings.HasPrefix(target, "../") {
		return "", fmt.Errorf("%q is outside the repository", ref)
	}
	return target, nil
}

// entry checks one path entry: it must exist; a folder is a kustomization
// to walk when asDir, and a plugin file's configurations are checked.
func (w *refWalk) entry(dir, ref string, asDir, plugin bool) error {
	target, err := local(dir, ref)
	if err != nil {
		return err
	}
	fi, err := fs.Stat(w.repo, target)
	if err != nil {
		return fmt.Errorf("%q: %w", ref, err)
	}
	if fi.IsDir() {
		if !asDir {
			return fmt.Errorf("%q is a folder, not a file", ref)
		}
		if err := w.kustomization(target, plugin); err != nil {
			return nested{err}
		}
		return nil
	}
	if plugin {
		data, err := w.read(target)
		if err != nil {
			return err
		}
		return w.pluginConfigs(path.Dir(target), target, data)
	}
	return nil
}

// patchRef checks a patchesStrategicMerge entry: a path (krusty loads it,
// fetching URLs) or, when no such file exists, an inline patch.
func (w *refWalk) patchRef(dir, ref string) error {
	_, err := local(dir, ref)
	return err
}

// pathKeys are the keys of builtin plugin configurations that name files
// to load (PatchTransformer path, PatchStrategicMergeTransformer paths,
// ConfigMapGenerator/SecretGenerator files, envs and env,
// ReplacementTransformer replacements[].path).
var pathKeys = []string{"path", "paths", "files", "envs", "env"}

// functionAnnotations mark a plugin configuration as a KRM function (a
// program or container to run).
var functionAnnotations = []string{"config.kubernetes.io/function", "config.k8s.io/function"}

var builtinPlugins = krusty.GetBuiltinPluginNames()

// pluginConfigs checks the plugin configurations in data (from where; in
// dir).
func (w *refWalk) pluginConfigs(dir, where string, data []byte) error {
	if err := w.limits.CheckYAML(where, data); err != nil {
		return err
	}
	var errs []error
	for i, doc := range splitDocs(data) {
		if isEmptyDoc(doc) {
			continue
		}
		var cfg struct {
			Kind     string `yaml:"kind"`
			Metadata struct {
				Name        string            `yaml:"name"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"metadata"`
		}
		var tree any
		if err := yaml.Unmarshal(doc, &cfg); err != nil {
			errs = append(errs, fmt.Errorf("%s: plugin configuration %d: %w", where, i+1, err))
			continue
		}
		_ = yaml.Unmarshal(doc, &tree)
		name := fmt.Sprintf("%s: %s %q", where, cfg.Kind, cfg.Metadata.Name)
		for _, a := range functionAnnotations {
			if _, ok := cfg.Metadata.Annotations[a]; ok {
				errs = append(errs, fmt.Errorf("%s: annotation %s makes it a KRM function (a program or container): not supported", name, a))
			}
		}
		switch {
		case cfg.Kind == "HelmChartInflationGenerator":
			errs = append(errs, fmt.Errorf("%s: runs the helm binary: not supported", name))
		case !slices.Contains(builtinPlugins, cfg.Kind):
			errs = append(errs, fmt.Errorf("%s: not a kustomize builtin plugin (plugins are off)", name))
		}
		walkStrings(tree, "", func(key, s string) {
			if !slices.Contains(pathKeys, key) {
				return
			}
			if key == "files" {
				s = fileSources([]string{s})[0]
			}
			if _, err := local(dir, s); err != nil {
				errs = append(errs, fmt.Errorf("%s: %s: %w", name, key, err))
			}
		})
	}
	return errors.Join(errs...)
}

// walkStrings calls f with every string in v and the map key it is under
// (a list's strings take the list's key).
func walkStrings(v any, key string, f func(key, s string)) {
	switch t := v.(type) {
	case map[string]any:
		for k, c := range t {
			walkStrings(c, k, f)
		}
	case []any:
		for _, c := range t {
			walkStrings(c, key, f)
		}
	case string:
		f(key, t)
	}
}

// gitUser is the "user@" prefix that makes kustomize read a reference as
// an scp-style git URL.
var gitUser = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]*@`)

// isRemote reports whether krusty's loader would fetch ref rather than
// read a path: an http(s) URL (loaded over HTTP), or anything its git
// parser accepts (any scheme, a "git::" prefix, "user@host:", a
// github.com path, a git query such as ?ref=).
func isRemote(ref string) bool {
	r := strings.ToLower(strings.TrimSpace(ref))
	r = strings.TrimPrefix(r, "git::")
	return strings.Contains(r, "://") || strings.Contains(r, "::") || gitUser.MatchString(r) ||
		strings.HasPrefix(r, "github.com/") || strings.HasPrefix(r, "github.com:") ||
		strings.HasPrefix(r, "gitlab.com/") || strings.HasPrefix(r, "bitbucket.org/") ||
		strings.Contains(r, "?ref=") || strings.Contains(r, "?version=") ||
		strings.Contains(r, "?submodules=") || strings.Contains(r, "?timeout=")
}

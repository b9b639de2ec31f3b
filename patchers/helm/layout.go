package helm

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/medic-bot/medic/patchers"
)

// environment is one release of a chart: the values file that belongs to
// it (may be "" when the chart has no per-environment files), the release
// name and the namespace.
type environment struct {
	Name       string
	ChartDir   string
	ChartName  string
	ValuesFile string
	Release    string
	Namespace  string
}

// charts lists the directories holding a Chart.yaml, leaving out charts
// vendored under another chart's charts/ directory.
func charts(repo fs.FS) ([]string, error) {
	var dirs []string
	err := fs.WalkDir(repo, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules") {
			return fs.SkipDir
		}
		if !d.IsDir() && d.Name() == "Chart.yaml" {
			dir := path.Dir(p)
			for _, c := range dirs {
				if c == "." || strings.HasPrefix(dir, c+"/") {
					return nil
				}
			}
			dirs = append(dirs, dir)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find charts: %w", err)
	}
	return dirs, nil
}

// chartName reads the name field of dir/Chart.yaml; the directory's name
// when it has none.
func chartName(repo fs.FS, dir string) string {
	b, err := fs.ReadFile(repo, path.Join(dir, "Chart.yaml"))
	if err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "name:"); ok {
				if v = strings.Trim(strings.TrimSpace(v), `"'`); v != "" {
					return v
				}
			}
		}
	}
	return path.Base(dir)
}

// namespacesFor are the namespaces the convention gives environment env of
// release rel.
func namespacesFor(rel, env string) []string {
	ns := []string{rel + "-" + env, env + "-" + rel, env}
	if productionNames[env] {
		ns = append([]string{rel}, ns...)
	}
	return ns
}

var productionNames = map[string]bool{"prod": true, "production": true, "prd": true, "live": true}

// environments lists the environments of the chart at dir, by the
// conventions of the package documentation.
func environments(repo fs.FS, dir string) []environment {
	name := chartName(repo, dir)
	var envs []environment
	add := func(env, file string) {
		envs = append(envs, environment{Name: env, ChartDir: dir, ChartName: name, ValuesFile: file, Release: name})
	}
	// values-<env>.yaml and values.<env>.yaml next to the chart.
	if ents, err := fs.ReadDir(repo, dir); err == nil {
		for _, e := range ents {
			n := e.Name()
			if e.IsDir() {
				continue
			}
			for _, ext := range []string{".yaml", ".yml"} {
				for _, pre := range []string{"values-", "values."} {
					if env, ok := strings.CutPrefix(strings.TrimSuffix(n, ext), pre); ok && strings.HasSuffix(n, ext) && env != "" {
						add(env, path.Join(dir, n))
					}
				}
			}
		}
	}
	// environments/<env>/{<chart>.yaml, <chart>/values.yaml, values.yaml}
	// at the repository's root, or beside the chart's parent.
	roots := []string{"environments", "envs", "env"}
	for _, root := range roots {
		ents, err := fs.ReadDir(repo, root)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			for _, f := range []string{name + ".yaml", name + "/values.yaml", "values.yaml"} {
				p := path.Join(root, e.Name(), f)
				if _, err := fs.Stat(repo, p); err == nil {
					add(e.Name(), p)
					break
				}
			}
		}
	}
	sort.SliceStable(envs, func(i, j int) bool { return envs[i].Name < envs[j].Name })
	return envs
}

// candidates lists the chart environments whose release lands in ns.
func candidates(repo fs.FS, ns string) ([]environment, error) {
	dirs, err := charts(repo)
	if err != nil {
		return nil, err
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("%w: no Chart.yaml in the repository", patchers.ErrNotFound)
	}
	var found []environment
	var seen []string
	for _, dir := range dirs {
		envs := environments(repo, dir)
		for _, e := range envs {
			for _, n := range namespacesFor(e.Release, e.Name) {
				if n == ns {
					e.Namespace = ns
					found = append(found, e)
					break
				}
			}
			seen = append(seen, e.ValuesFile)
		}
		if len(envs) == 0 {
			// No per-environment files: the chart's own values.yaml, in
			// whatever namespace the intent names.
			vf := path.Join(dir, "values.yaml")
			if _, err := fs.Stat(repo, vf); err != nil {
				vf = ""
			}
			name := chartName(repo, dir)
			found = append(found, environment{Name: ns, ChartDir: dir, ChartName: name, ValuesFile: vf, Release: name, Namespace: ns})
		}
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("%w: no environment's values file maps to namespace %q (values files: %s)", patchers.ErrNotFound, ns, strings.Join(seen, ", "))
	}
	return found, nil
}

package render

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/ignore"
)

// Helm renders the chart with DefaultLimits; see Limits.Helm.
func Helm(repo fs.FS, chartDir string, valuesFiles []string, release, namespace string) ([]byte, error) {
	return DefaultLimits().Helm(context.Background(), repo, chartDir, valuesFiles, release, namespace)
}

// Helm renders the chart in chartDir like `helm template`: the chart's
// values.yaml, then each of valuesFiles in order (paths relative to the
// repository root, later files win, maps merge key by key), the release
// name and namespace, Helm's default capabilities, IsInstall and revision 1.
// The output is the rendered manifests sorted by template name, each
// document preceded by "---" and a "# Source: chart/templates/x.yaml"
// comment as helm template prints it; NOTES.txt, partials (_*.tpl) and
// empty documents are dropped. Subcharts under charts/ must be vendored
// (directories or .tgz); nothing is fetched. .helmignore is honoured.
//
// The chart's files and the values files are copied (symlinks resolved
// inside the repository; one that leaves it is an error) to a child
// process bounded by l, where each passes CheckYAML before Helm parses it,
// and so does the rendered stream before it is returned.
func (l Limits) Helm(ctx context.Context, repo fs.FS, chartDir string, valuesFiles []string, release, namespace string) ([]byte, error) {
	chartDir = cleanDir(chartDir)
	what := "render chart " + chartDir
	if err := l.Validate(); err != nil {
		return nil, fmt.Errorf("%s: limits: %w", what, err)
	}
	if _, err := fs.Stat(repo, path.Join(chartDir, "Chart.yaml")); err != nil {
		return nil, fmt.Errorf("%s: not a chart: %w", what, err)
	}
	files, err := l.collect(repo, chartDir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	for _, vf := range valuesFiles {
		vf = path.Clean(strings.TrimPrefix(vf, "/"))
		fi, err := fs.Lstat(repo, vf)
		if err != nil {
			return nil, fmt.Errorf("%s: values file: %w", what, err)
		}
		if fi.IsDir() {
			return nil, fmt.Errorf("%s: values file %s is a folder", what, vf)
		}
		more, err := l.collect(repo, vf)
		if err != nil {
			return nil, fmt.Errorf("%s: values file: %w", what, err)
		}
		files = append(files, more...)
	}
	return l.run(ctx, what, request{Op: opHelm, Dir: chartDir, ValuesFiles: valuesFiles, Release: release, Namespace: namespace, Files: files})
}

// helmFiles renders req's chart from its files, in the render child.
func helmFiles(req request) ([]byte, error) {
	m := make(map[string][]byte, len(req.Files))
	for _, f := range req.Files {
		if err := req.Limits.CheckYAML(f.Name, f.Data); err != nil {
			return nil, err
		}
		m[f.Name] = f.Data
	}
	out, err := helmTemplate(Overlay(emptyFS{}, m), req.Dir, req.ValuesFiles, req.Release, req.Namespace)
	if err != nil {
		return nil, err
	}
	if int64(len(out)) > req.Limits.MaxOutputBytes {
		return nil, limitError("rendered output", "max_output_bytes", req.Limits.MaxOutputBytes)
	}
	if err := req.Limits.CheckYAML("rendered chart "+req.Dir, out); err != nil {
		return nil, err
	}
	return out, nil
}

// emptyFS holds nothing.
type emptyFS struct{}

func (emptyFS) Open(name string) (fs.File, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

// helmTemplate is helm template on repo, which holds the chart's files.
func helmTemplate(repo fs.FS, chartDir string, valuesFiles []string, release, namespace string) ([]byte, error) {
	chartDir = cleanDir(chartDir)
	files, err := chartFiles(repo, chartDir)
	if err != nil {
		return nil, fmt.Errorf("render chart %s: %w", chartDir, err)
	}
	chrt, err := loader.LoadFiles(files)
	if err != nil {
		return nil, fmt.Errorf("render chart %s: load: %w", chartDir, err)
	}
	if err := checkVendored(chrt); err != nil {
		return nil, fmt.Errorf("render chart %s: %s/Chart.yaml: %w", chartDir, chartDir, err)
	}
	vals := map[string]any{}
	for _, vf := range valuesFiles {
		vf = path.Clean(strings.TrimPrefix(vf, "/"))
		data, err := fs.ReadFile(repo, vf)
		if err != nil {
			return nil, fmt.Errorf("render chart %s: values file: %w", chartDir, err)
		}
		// ReadValues parses as helm -f does (via JSON: numbers are
		// float64), so templates print values as helm template would.
		layer, err := chartutil.ReadValues(data)
		if err != nil {
			return nil, fmt.Errorf("render chart %s: values file %s: %w", chartDir, vf, err)
		}
		mergeValues(vals, layer)
	}
	if err := chartutil.ProcessDependenciesWithMerge(chrt, vals); err != nil {
		return nil, fmt.Errorf("render chart %s: dependencies: %w", chartDir, err)
	}
	opts := chartutil.ReleaseOptions{Name: release, Namespace: namespace, Revision: 1, IsInstall: true}
	top, err := chartutil.ToRenderValues(chrt, vals, opts, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, fmt.Errorf("render chart %s: values: %w", chartDir, err)
	}
	rendered, err := engine.Render(chrt, top)
	if err != nil {
		return nil, fmt.Errorf("render chart %s: %w", chartDir, err)
	}
	names := make([]string, 0, len(rendered))
	for name := range rendered {
		base := path.Base(name)
		if base == "NOTES.txt" || strings.HasPrefix(base, "_") {
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	var out bytes.Buffer
	for _, name := range names {
		for _, doc := range splitDocs([]byte(rendered[name])) {
			if isEmptyDoc(doc) {
				continue
			}
			fmt.Fprintf(&out, "---\n# Source: %s\n", name)
			out.Write(trimDoc(doc))
			out.WriteByte('\n')
		}
	}
	return out.Bytes(), nil
}

// checkVendored reports dependencies that Chart.yaml lists but charts/
// does not hold, as helm template does: nothing is downloaded.
func checkVendored(chrt *chart.Chart) error {
	have := map[string]bool{}
	for _, d := range chrt.Dependencies() {
		have[d.Name()] = true
	}
	var missing []string
	for _, d := range chrt.Metadata.Dependencies {
		if d != nil && !have[d.Name] {
			missing = append(missing, d.Name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("dependencies %s are not vendored in charts/ (run helm dependency build and commit charts/)", strings.Join(missing, ", "))
	}
	return nil
}

// chartFiles reads the chart's files with names relative to chartDir,
// skipping what .helmignore excludes.
func chartFiles(repo fs.FS, chartDir string) ([]*loader.BufferedFile, error) {
	if _, err := fs.Stat(repo, path.Join(chartDir, "Chart.yaml")); err != nil {
		return nil, fmt.Errorf("not a chart: %w", err)
	}
	rules := ignore.Empty()
	if data, err := fs.ReadFile(repo, path.Join(chartDir, ".helmignore")); err == nil {
		r, err := ignore.Parse(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", path.Join(chartDir, ".helmignore"), err)
		}
		rules = r
	}
	rules.AddDefaults()
	var files []*loader.BufferedFile
	err := fs.WalkDir(repo, chartDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, chartDir), "/")
		if chartDir == "." {
			rel = p
		}
		if rel == "." || rel == "" {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			if rules.Ignore(rel, fi) {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			// collect resolved links to copies; nothing else is content.
			return fmt.Errorf("%s: not a regular file", p)
		}
		if rules.Ignore(rel, fi) {
			return nil
		}
		data, err := fs.ReadFile(repo, p)
		if err != nil {
			return err
		}
		files = append(files, &loader.BufferedFile{Name: rel, Data: data})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return files, nil
}

// mergeValues merges src into dst: maps merge key by key, anything else in
// src replaces dst's value, as `helm template -f a.yaml -f b.yaml` does.
func mergeValues(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				mergeValues(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

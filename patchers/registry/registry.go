package registry

import (
	"errors"
	"fmt"
	"io/fs"
	"path"

	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/helm"
	"github.com/medic-bot/medic/patchers/kustomize"
	"github.com/medic-bot/medic/patchers/manifest"
	"github.com/medic-bot/medic/patchers/render"
)

// ErrNoPatcher is wrapped when no patcher handles the repository's layout.
var ErrNoPatcher = errors.New("no patcher for this repository")

// kustomizationNames are the file names kustomize reads.
var kustomizationNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// For returns the patcher for repo, judged by what dir (a slash-separated
// path inside repo; "." for all of it) holds, searched recursively: a
// kustomization picks kustomize, a Chart.yaml picks Helm, YAML files
// without either pick the plain-manifest patcher. The patcher then plans on
// the whole repo. An error names what was found when nothing applies.
// Renders run under render.DefaultLimits.
func For(repo fs.FS, dir string) (patchers.Patcher, error) {
	return ForLimits(repo, dir, render.DefaultLimits())
}

// ForLimits is For with every render (kustomize build, helm template) of
// the returned patcher bounded by limits.
func ForLimits(repo fs.FS, dir string, limits render.Limits) (patchers.Patcher, error) {
	dir = path.Clean(dir)
	if !fs.ValidPath(dir) {
		return nil, fmt.Errorf("%w: %q is not a path inside the repository", ErrNoPatcher, dir)
	}
	sub := repo
	if dir != "." {
		s, err := fs.Sub(repo, dir)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", dir, err)
		}
		sub = s
	}
	if info, err := fs.Stat(sub, "."); err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	} else if !info.IsDir() {
		return nil, fmt.Errorf("%w: %s is not a folder", ErrNoPatcher, dir)
	}
	kust, chart, yamls, err := survey(sub)
	if err != nil {
		return nil, err
	}
	switch {
	case kust != "":
		return kustomize.NewWithLimits(limits), nil
	case chart != "":
		return helm.NewWithLimits(limits), nil
	}
	if m := manifest.New(); yamls > 0 && m.Detect(sub) {
		return m, nil
	}
	return nil, fmt.Errorf("%w: %s holds no kustomization, no Chart.yaml and no YAML manifests", ErrNoPatcher, dir)
}

// survey walks repo (skipping hidden folders) for the first kustomization
// and Chart.yaml, and counts YAML files.
func survey(repo fs.FS) (kust, chart string, yamls int, err error) {
	err = fs.WalkDir(repo, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && d.Name()[0] == '.' {
				return fs.SkipDir
			}
			return nil
		}
		name := d.Name()
		for _, k := range kustomizationNames {
			if name == k && kust == "" {
				kust = p
			}
		}
		if name == "Chart.yaml" && chart == "" {
			chart = p
		}
		if ext := path.Ext(name); ext == ".yaml" || ext == ".yml" {
			yamls++
		}
		return nil
	})
	if err != nil {
		return "", "", 0, fmt.Errorf("read repository: %w", err)
	}
	return kust, chart, yamls, nil
}

package render

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"gopkg.in/yaml.v3"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// kustomizationNames are the file names kustomize accepts, in its order of
// preference.
var kustomizationNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// IsKustomization reports whether name (a file name or path) is a
// kustomization file.
func IsKustomization(name string) bool {
	base := path.Base(name)
	for _, k := range kustomizationNames {
		if base == k {
			return true
		}
	}
	return false
}

// KustomizationFile returns the path of dir's kustomization file in repo, or
// ok false when dir has none.
func KustomizationFile(repo fs.FS, dir string) (file string, ok bool) {
	for _, k := range kustomizationNames {
		p := path.Join(cleanDir(dir), k)
		if fi, err := fs.Stat(repo, p); err == nil && !fi.IsDir() {
			return p, true
		}
	}
	return "", false
}

// Kustomize runs `kustomize build` on dir inside repo (krusty with default
// options: no plugins, load restrictions root-only, objects in the order the
// kustomization gives them unless its sortOptions say otherwise, where the
// kustomize CLI would sort them "legacy" style) and returns the YAML stream. The repository is copied into an in-memory
// filesystem first; nothing touches disk or network. A remote base (a URL
// or git reference in resources, bases or components) is an error naming
// the kustomization file, as is helmCharts, which would need the helm binary.
func Kustomize(repo fs.FS, dir string) ([]byte, error) {
	dir = cleanDir(dir)
	if err := checkLocal(repo, dir, map[string]bool{}); err != nil {
		return nil, fmt.Errorf("render kustomization %s: %w", dir, err)
	}
	mem, err := memFS(repo)
	if err != nil {
		return nil, fmt.Errorf("render kustomization %s: %w", dir, err)
	}
	root := "/" + dir
	if dir == "." {
		root = "/"
	}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(mem, root)
	if err != nil {
		return nil, fmt.Errorf("render kustomization %s: %w", dir, err)
	}
	out, err := m.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("render kustomization %s: encode: %w", dir, err)
	}
	return out, nil
}

func cleanDir(dir string) string {
	dir = path.Clean(strings.TrimPrefix(dir, "/"))
	if dir == "" || dir == "/" {
		return "."
	}
	return dir
}

// kustomizationRefs is the part of a kustomization that names other
// kustomizations or files to load.
type kustomizationRefs struct {
	Resources  []string `yaml:"resources"`
	Bases      []string `yaml:"bases"`
	Components []string `yaml:"components"`
	HelmCharts []any    `yaml:"helmCharts"`
}

// checkLocal walks the kustomizations reachable from dir and refuses remote
// references before krusty would try to fetch them.
func checkLocal(repo fs.FS, dir string, seen map[string]bool) error {
	if seen[dir] {
		return nil
	}
	seen[dir] = true
	file, ok := KustomizationFile(repo, dir)
	if !ok {
		return fmt.Errorf("no kustomization.yaml in %s", dir)
	}
	data, err := fs.ReadFile(repo, file)
	if err != nil {
		return err
	}
	var refs kustomizationRefs
	if err := yaml.Unmarshal(data, &refs); err != nil {
		return fmt.Errorf("parse %s: %w", file, err)
	}
	if len(refs.HelmCharts) > 0 {
		return fmt.Errorf("%s: helmCharts is not supported (it runs the helm binary); render the chart with the helm patcher", file)
	}
	var errs []error
	for _, list := range [][]string{refs.Resources, refs.Bases, refs.Components} {
		for _, ref := range list {
			if isRemote(ref) {
				errs = append(errs, fmt.Errorf("%s: remote resource %q is not supported (no network): vendor it into the repository", file, ref))
				continue
			}
			target := path.Join(dir, ref)
			if target == ".." || strings.HasPrefix(target, "../") {
				errs = append(errs, fmt.Errorf("%s: resource %q is outside the repository", file, ref))
				continue
			}
			fi, err := fs.Stat(repo, target)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: resource %q: %w", file, ref, err))
				continue
			}
			if fi.IsDir() {
				if err := checkLocal(repo, target, seen); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// isRemote reports whether a kustomization reference is a URL or a git
// reference rather than a path.
func isRemote(ref string) bool {
	return strings.Contains(ref, "://") || strings.HasPrefix(ref, "git@") ||
		strings.Contains(ref, "?ref=") || strings.Contains(ref, "?version=") ||
		strings.HasPrefix(ref, "github.com/") || strings.HasPrefix(ref, "gitlab.com/") ||
		strings.HasPrefix(ref, "bitbucket.org/")
}

// memFS copies repo (minus .git) into an in-memory kustomize filesystem
// rooted at "/".
func memFS(repo fs.FS) (filesys.FileSystem, error) {
	mem := filesys.MakeFsInMemory()
	err := fs.WalkDir(repo, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return fs.SkipDir
			}
			return mem.MkdirAll("/" + p)
		}
		if d.Type()&fs.ModeSymlink != 0 {
			// A link to a file is read through; a link to a folder is
			// not followed (it could loop).
			if fi, err := fs.Stat(repo, p); err != nil || !fi.Mode().IsRegular() {
				return nil
			}
		} else if !d.Type().IsRegular() {
			return nil
		}
		data, err := fs.ReadFile(repo, p)
		if err != nil {
			return err
		}
		return mem.WriteFile("/"+p, data)
	})
	if err != nil {
		return nil, fmt.Errorf("copy repository: %w", err)
	}
	return mem, nil
}

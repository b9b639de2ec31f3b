package render

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
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

// Kustomize renders dir with DefaultLimits; see Limits.Kustomize.
func Kustomize(repo fs.FS, dir string) ([]byte, error) {
	return DefaultLimits().Kustomize(context.Background(), repo, dir)
}

// Kustomize runs `kustomize build` on dir inside repo (krusty with load
// restrictions root-only and plugins off, objects in the order the
// kustomization gives them unless its sortOptions say otherwise, where the
// kustomize CLI would sort them "legacy" style) and returns the YAML
// stream. It never reaches the network and never runs a program: every
// kustomization reachable from dir is checked first (checkLocal), and a
// reference to a URL, a git repository, a file outside the repository, a
// Helm chart or a KRM function is an error naming the file and field. The
// repository (minus .git) is copied, symlinks resolved inside it, into an
// in-memory filesystem in a child process bounded by l (see sandbox.go);
// every file krusty reads there passes CheckYAML first.
func (l Limits) Kustomize(ctx context.Context, repo fs.FS, dir string) ([]byte, error) {
	dir = cleanDir(dir)
	what := "render kustomization " + dir
	if err := l.Validate(); err != nil {
		return nil, fmt.Errorf("%s: limits: %w", what, err)
	}
	if err := l.checkLocal(repo, dir); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	files, unreadable, err := l.collectReferenced(repo, ".")
	if err != nil {
		return nil, fmt.Errorf("%s: copy repository: %w", what, err)
	}
	return l.run(ctx, what, request{Op: opKustomize, Dir: dir, Files: files, Unreadable: unreadable})
}

// kustomizeFiles runs krusty on req's files, in the render child.
func kustomizeFiles(req request) ([]byte, error) {
	mem := filesys.MakeFsInMemory()
	for _, f := range req.Files {
		if err := mem.WriteFile("/"+f.Name, f.Data); err != nil {
			return nil, err
		}
	}
	root := "/" + req.Dir
	if req.Dir == "." {
		root = "/"
	}
	fsys := &checkedFS{FileSystem: mem, limits: req.Limits, budget: 4 * req.Limits.MaxInputBytes, unreadable: req.Unreadable}
	opts := krusty.MakeDefaultOptions()
	opts.LoadRestrictions = types.LoadRestrictionsRootOnly
	opts.PluginConfig = types.DisabledPluginConfig()
	m, err := krusty.MakeKustomizer(opts).Run(fsys, root)
	if err != nil {
		if fsys.refused != nil {
			// krusty flattens errors to text; report the check's own.
			return nil, fsys.refused
		}
		return nil, err
	}
	out, err := m.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return out, nil
}

// checkedFS is the filesystem krusty reads: every file passes CheckYAML
// before kyaml can expand its aliases, and all reads together are bounded.
type checkedFS struct {
	filesys.FileSystem
	limits  Limits
	mu      sync.Mutex
	budget  int64
	refused error // the first file refused
	// unreadable are the repository's bad symlinks, by path.
	unreadable map[string]string
}

// badLink returns the reason name (or a folder above it) is a symlink
// that cannot be read, or "".
func (c *checkedFS) badLink(name string) string {
	for p := strings.TrimPrefix(path.Clean(name), "/"); p != "." && p != "/" && p != ""; p = path.Dir(p) {
		if why, ok := c.unreadable[p]; ok {
			return why
		}
	}
	return ""
}

// Exists says yes to a bad link, so that krusty reads it and gets the
// link's own error rather than "not found".
func (c *checkedFS) Exists(name string) bool {
	return c.badLink(name) != "" || c.FileSystem.Exists(name)
}

func (c *checkedFS) ReadFile(name string) ([]byte, error) {
	if why := c.badLink(name); why != "" {
		err := errors.New(why)
		c.mu.Lock()
		if c.refused == nil {
			c.refused = err
		}
		c.mu.Unlock()
		return nil, err
	}
	data, err := c.FileSystem.ReadFile(name)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.budget -= int64(len(data))
	if c.budget < 0 {
		err = limitError("read "+strings.TrimPrefix(name, "/"), "4 x max_input_bytes", 4*c.limits.MaxInputBytes)
	} else {
		err = c.limits.CheckYAML(strings.TrimPrefix(name, "/"), data)
	}
	if err != nil {
		if c.refused == nil {
			c.refused = err
		}
		return nil, err
	}
	return data, nil
}

// Open is refused: krusty reads files whole, through ReadFile.
func (c *checkedFS) Open(name string) (filesys.File, error) {
	return nil, fmt.Errorf("open %s: not supported in the render sandbox", name)
}

func cleanDir(dir string) string {
	dir = path.Clean(strings.TrimPrefix(dir, "/"))
	if dir == "" || dir == "/" {
		return "."
	}
	return dir
}

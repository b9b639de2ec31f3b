package policy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/util"
	"sigs.k8s.io/yaml"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// LoadDir reads the .rego modules and .json/.yaml/.yml data files under dir
// in fsys (recursively). Parse errors name file:line, and every problem is
// reported at once. Each data file is a document merged at the data root.
func LoadDir(fsys fs.FS, dir string) (Bundle, error) {
	b := Bundle{Modules: map[string]*ast.Module{}, Tests: map[string]*ast.Module{}, Data: map[string]any{}}
	var errs []error
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ext := path.Ext(p)
		if ext != ".rego" && ext != ".json" && ext != ".yaml" && ext != ".yml" {
			return nil
		}
		src, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		if ext == ".rego" {
			m, err := ast.ParseModuleWithOpts(p, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
			if err != nil {
				errs = append(errs, err)
				return nil
			}
			if strings.HasSuffix(p, "_test.rego") {
				b.Tests[p] = m
			} else {
				b.Modules[p] = m
			}
			return nil
		}
		var doc any
		if ext == ".json" {
			err = util.UnmarshalJSON(src, &doc)
		} else {
			var js []byte
			js, err = yaml.YAMLToJSON(src)
			if err == nil {
				err = util.UnmarshalJSON(js, &doc)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
			return nil
		}
		obj, ok := doc.(map[string]any)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: data file must hold an object", p))
			return nil
		}
		merged, ok := mergeData(b.Data, obj)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: data conflicts with another data file", p))
			return nil
		}
		b.Data = merged
		return nil
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("read policy folder: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		if dir == "." {
			return Bundle{}, fmt.Errorf("load policy: %w", err)
		}
		return Bundle{}, fmt.Errorf("load policy %s: %w", dir, err)
	}
	return b, nil
}

func mergeData(a, b map[string]any) (map[string]any, bool) {
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		old, ok := out[k]
		if !ok {
			out[k] = v
			continue
		}
		om, ok1 := old.(map[string]any)
		nm, ok2 := v.(map[string]any)
		if !ok1 || !ok2 {
			return nil, false
		}
		m, ok := mergeData(om, nm)
		if !ok {
			return nil, false
		}
		out[k] = m
	}
	return out, true
}

// Default returns the parsed default bundle.
func Default() Bundle {
	b, err := LoadDir(DefaultBundle(), ".")
	if err != nil {
		panic(err) // the embedded bundle is tested
	}
	return b
}

// replaces reports whether repo modules define the rules that make a repo
// policy replace the defaults: automerge or decision in package medic.
func replaces(mods map[string]*ast.Module) bool {
	for _, m := range mods {
		if m.Package.Path.String() != "data.medic" {
			continue
		}
		for _, r := range m.Rules {
			switch r.Head.Ref().String() {
			case "automerge", "decision":
				return true
			}
		}
	}
	return false
}

// ForRepo combines the default bundle with a repository's policy folder:
// the repo's modules replace the defaults when they define automerge or
// decision in package medic, and extend them otherwise. Data files always
// add to the defaults'.
func ForRepo(repo Bundle) Bundle {
	if replaces(repo.Modules) {
		return repo
	}
	def := Default()
	out := Bundle{Modules: map[string]*ast.Module{}, Tests: map[string]*ast.Module{}, Data: repo.Data}
	// The default bundle's names are its own ("medic.rego"); a prefix keeps
	// them apart from the repo's and says where a compile error is.
	for k, m := range def.Modules {
		out.Modules["(default)/"+k] = m
	}
	for k, m := range repo.Modules {
		out.Modules[k] = m
	}
	for k, m := range repo.Tests {
		out.Tests[k] = m
	}
	return out
}

// NewRepoGate loads a repo policy folder and builds its gate. When the
// folder does not exist the default bundle is used, in process. A repo's
// own policy compiles and evaluates in a sandboxed child process bounded
// by opts.Sandbox (see sandbox.go). On any error the returned Gate fails
// closed with that error as the reason, and the error is also returned so
// the caller can report it.
func NewRepoGate(ctx context.Context, fsys fs.FS, dir string, opts Options) (Gate, error) {
	if _, err := fs.Stat(fsys, dir); errors.Is(err, fs.ErrNotExist) {
		g, err := NewGate(ctx, Default(), opts)
		if err != nil {
			return closedGate(err), err
		}
		return g, nil
	}
	g, err := newSandboxGate(ctx, fsys, dir, opts)
	if err != nil {
		return closedGate(err), err
	}
	return g, nil
}

func closedGate(err error) Gate {
	return GateFunc(func(ctx context.Context, _ Input) (Decision, error) {
		if e := ctx.Err(); e != nil {
			return Decision{}, e
		}
		return FailClosed(err), nil
	})
}

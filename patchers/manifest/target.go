package manifest

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"testing/fstest"

	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/render"
)

var _ patchers.TargetRenderer = patcher{}

// RenderTarget implements patchers.TargetRenderer: the folder of the file
// defining t and the rendered manifests of that file (render.Manifests).
// The target is found as Plan finds it: ErrNotFound when no document
// defines it, ErrAmbiguous when several do. A document that names no
// namespace (its folder gives it one) is rendered with metadata.namespace
// set, so the manifests name the object as t does.
func (patcher) RenderTarget(ctx context.Context, repo fs.FS, t patchers.Target) (string, []byte, error) {
	docs, _, err := load(ctx, repo)
	if err != nil {
		return "", nil, err
	}
	d, err := find(docs, t)
	if err != nil {
		return "", nil, err
	}
	f := d.file
	out, err := render.Manifests(fstest.MapFS{f.path: &fstest.MapFile{Data: f.orig, Mode: 0o644}}, ".")
	if err != nil {
		return "", nil, err
	}
	if out, err = render.WithNamespace(out, t); err != nil {
		return "", nil, fmt.Errorf("%s: %w", d.where(), err)
	}
	return path.Dir(f.path), out, nil
}

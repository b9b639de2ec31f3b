// Package patchers turns a remediation Intent into a Change: the edits to
// an infra repository's files (comment-preserving), the rendered manifests
// before and after, and their diffs.
//
// A Patcher is pure with respect to the repository: it reads files from an
// fs.FS and returns edits; nothing is written until the caller applies the
// Change (medic patch --write, or the forge). Subpackages hold the
// kustomize, Helm and plain-manifest patchers and the rendering shared by
// them. patchers never imports bot.
package patchers

// Package render renders the manifests a repository describes and compares
// renders: kustomize builds, Helm templates and plain manifest folders, the
// objects they hold, which objects changed, a unified diff of two texts and
// the value of one field of one object.
//
// Every function reads an fs.FS and never writes; Overlay lays edited files
// over a repository so that the "after" render needs no disk. All output is
// deterministic: the same inputs give the same bytes. The functions are safe
// for concurrent use.
package render

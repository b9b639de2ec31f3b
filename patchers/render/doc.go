// Package render renders the manifests a repository describes and compares
// renders: kustomize builds, Helm templates and plain manifest folders, the
// objects they hold, which objects changed, a unified diff of two texts and
// the value of one field of one object.
//
// Every function reads an fs.FS and never writes; Overlay lays edited files
// over a repository so that the "after" render needs no disk. All output is
// deterministic: the same inputs give the same bytes. The functions are safe
// for concurrent use.
//
// Repository content is untrusted. kustomize builds and Helm templates run
// in a child process (the current binary re-executed in a hidden mode)
// bounded by Limits: time, memory, output and input size; the error names
// the limit passed. Every YAML stream passes CheckYAML, which bounds alias
// expansion, before a decoder that expands aliases reads it. kustomize
// never reaches the network and never runs a program: every field of every
// reachable kustomization that names something to load must be a path
// inside the repository. Symlinks are followed only inside the repository.
package render

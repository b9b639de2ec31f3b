// Package registry picks the patcher for a repository from what it holds:
// a kustomization picks the kustomize patcher, a Helm chart (Chart.yaml)
// the Helm patcher, and YAML files with neither the plain-manifest
// patcher. For is safe for concurrent use.
package registry

// Package kustomize plans remediation changes in kustomize repositories:
// it finds the overlay that renders the target, edits the narrowest source
// that controls the field (a strategic-merge patch, images: or replicas: of
// that overlay), keeps comments and formatting, and verifies the rendered
// result before returning a patchers.Change.
package kustomize

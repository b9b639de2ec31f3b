// Package kustomize plans remediation changes in kustomize repositories.
//
// Plan builds every root kustomization of the repository (one that no
// other kustomization includes, and not a Component) and finds the one
// whose render holds the target namespace/kind/name: none is
// patchers.ErrNotFound, two are patchers.ErrAmbiguous; a root that does not
// build is an error, since it might define the target too. It then edits
// the narrowest source inside that overlay that controls the field:
//
//   - set_resources, set_env: the overlay's strategic-merge patch that
//     already patches the workload, else a new patch file listed under
//     patches:; when the overlay itself defines the workload (the base is
//     the only definition) that definition is edited in place;
//   - set_hpa: the same for the HorizontalPodAutoscaler targeting the
//     workload;
//   - scale: the overlay's replicas: entry; rollback_image with an image:
//     its images: entry.
//
// rollback_image with previous and revert_commit need git history: on its
// own the patcher returns ErrNotSupported for them, and patchers/history
// wraps it to carry them out.
//
// Edits go through kyaml nodes, and are then carried back onto the
// original text line by line, so comments, key order, indentation, blank
// lines and document separators outside the edit are kept byte for byte.
// The overlay is rendered before and after: the intended fields must have
// their values, only the target (and its HPA for set_hpa) may change, and
// no other environment's render may change; otherwise Plan refuses. Limits
// below the rendered requests and replicas outside an HPA's bounds are
// refused too. A Plan reads the repository and never writes it.
package kustomize

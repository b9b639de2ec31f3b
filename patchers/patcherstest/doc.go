// Package patcherstest is the contract suite every patchers.Patcher runs:
// the guarantees the rest of medic relies on, checked the same way for the
// kustomize, Helm and plain-manifest patchers.
//
// A patcher's tests call Run with a fixture repository and a target that
// repository defines:
//
//	func TestContract(t *testing.T) {
//		patcherstest.Run(t, manifest.New(), os.DirFS("testdata/repo"), target)
//	}
package patcherstest

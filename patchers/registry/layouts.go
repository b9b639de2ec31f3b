package registry

import (
	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/helm"
	"github.com/medic-bot/medic/patchers/kustomize"
)

// kustomizePatcher is the kustomize patcher, for a repository holding the
// kustomization file.
func kustomizePatcher(file string) (patchers.Patcher, error) {
	_ = file
	return kustomize.New(), nil
}

// helmPatcher is the Helm patcher, for a repository holding chart.
func helmPatcher(chart string) (patchers.Patcher, error) {
	_ = chart
	return helm.New(), nil
}

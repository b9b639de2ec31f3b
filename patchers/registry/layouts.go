package registry

import (
	"fmt"

	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/helm"
)

// kustomizePatcher stands in until the kustomize patcher lands: it names
// what was found and that it is not handled yet.
func kustomizePatcher(file string) (patchers.Patcher, error) {
	return nil, fmt.Errorf("%w: %s is a kustomization and the kustomize patcher is not built yet", ErrNoPatcher, file)
}

// helmPatcher is the Helm patcher, for a repository holding chart.
func helmPatcher(chart string) (patchers.Patcher, error) {
	_ = chart
	return helm.New(), nil
}

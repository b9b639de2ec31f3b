package registry

import (
	"fmt"

	"github.com/medic-bot/medic/patchers"
)

// kustomizePatcher and helmPatcher stand in until the kustomize and helm
// patchers land: they name what was found and that it is not handled yet.
func kustomizePatcher(file string) (patchers.Patcher, error) {
	return nil, fmt.Errorf("%w: %s is a kustomization and the kustomize patcher is not built yet", ErrNoPatcher, file)
}

func helmPatcher(file string) (patchers.Patcher, error) {
	return nil, fmt.Errorf("%w: %s is a Helm chart and the helm patcher is not built yet", ErrNoPatcher, file)
}

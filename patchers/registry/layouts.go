package registry

import (
	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/helm"
	"github.com/medic-bot/medic/patchers/kustomize"
)

// The patchers For picks from: a kustomization, a Helm chart. The
// plain-manifest patcher is the fallback in For itself.
func kustomizePatcher() patchers.Patcher { return kustomize.New() }

func helmPatcher() patchers.Patcher { return helm.New() }

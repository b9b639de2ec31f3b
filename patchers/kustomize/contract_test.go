package kustomize

import (
	"os"
	"testing"

	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/patcherstest"
)

func TestContract(t *testing.T) {
	for _, ns := range []string{"shop", "shop-staging"} {
		t.Run(ns, func(t *testing.T) {
			patcherstest.Run(t, New(), os.DirFS(fixture), patchers.Target{Namespace: ns, Kind: "Deployment", Name: "checkout", Container: "app"})
		})
	}
}

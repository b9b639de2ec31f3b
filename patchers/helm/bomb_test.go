package helm

import (
	"context"
	"strings"
	"testing"

	"github.com/medic-bot/medic/patchers/patcherstest"
)

// TestAliasBomb: a billion-laughs values file (about a million nodes, so a
// regression costs memory, not the machine) is refused, naming the file.
func TestAliasBomb(t *testing.T) {
	repo := mapRepo(map[string]string{
		"c/Chart.yaml":            "apiVersion: v2\nname: bomb\nversion: 0.1.0\n",
		"c/values.yaml":           "replicas: 1\n",
		"c/values-prod.yaml":      patcherstest.AliasBomb(10, 6),
		"c/templates/deploy.yaml": deployment("bomb", "1Gi", "{{ .Values.replicas }}"),
	})
	_, err := New().Plan(context.Background(), repo, intent(t, "scale", "bomb", "bomb", `{"replicas":3}`))
	if err == nil || !strings.Contains(err.Error(), "c/values-prod.yaml") || !strings.Contains(err.Error(), "max_yaml_alias_nodes") {
		t.Fatalf("error %v, want c/values-prod.yaml and max_yaml_alias_nodes named", err)
	}
}

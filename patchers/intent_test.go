package patchers

import (
	"strings"
	"testing"
)

func TestParseIntent(t *testing.T) {
	ok := []string{
		`{"kind":"set_resources","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"},"params":{"limits":{"memory":"768Mi"}}}`,
		`{"kind":"scale","target":{"namespace":"shop","kind":"Deployment","name":"checkout"},"params":{"replicas":4}}`,
		`{"kind":"set_hpa","target":{"namespace":"shop","kind":"Deployment","name":"checkout"},"params":{"maxReplicas":10}}`,
		`{"kind":"rollback_image","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"},"params":{"previous":true}}`,
		`{"kind":"rollback_image","target":{"namespace":"shop","kind":"StatefulSet","name":"db"},"params":{"image":"ghcr.io/acme/db:1.4.2@sha256:0123"}}`,
		`{"kind":"set_env","target":{"namespace":"shop","kind":"Deployment","name":"checkout"},"params":{"name":"GOMEMLIMIT","value":"700MiB"}}`,
		`{"kind":"revert_commit","target":{"namespace":"shop","kind":"Deployment","name":"checkout"},"params":{"commit":"0a1b2c3d"}}`,
	}
	for _, s := range ok {
		if _, err := ParseIntent([]byte(s)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	bad := map[string][]string{
		`{"kind":"delete","target":{"namespace":"shop","kind":"Deployment","name":"checkout"},"params":{}}`:                                               {`kind "delete"`},
		`{"kind":"set_resources","target":{"namespace":"Shop!","kind":"Pod","name":"checkout"},"params":{"limits":{"memory":"lots"}}}`:                    {"target.namespace", "target.kind", `"lots" is not a Kubernetes quantity`},
		`{"kind":"set_resources","target":{"namespace":"shop","kind":"Deployment","name":"x"},"params":{"limits":{"cpu":"100m"},"requests":{"cpu":"1"}}}`: {"below its request"},
		`{"kind":"set_resources","target":{"namespace":"shop","kind":"Deployment","name":"x"},"params":{"limits":{"gpu":"1"}}}`:                           {"params.limits: additional properties 'gpu' not allowed"},
		`{"kind":"scale","target":{"namespace":"shop","kind":"Deployment","name":"x"},"params":{"replicas":-1}}`:                                          {"params.replicas"},
		`{"kind":"scale","target":{"namespace":"shop","kind":"Deployment","name":"x"},"params":{"replica":2}}`:                                            {"params: missing property 'replicas'", "additional properties 'replica'"},
		`{"kind":"set_hpa","target":{"namespace":"shop","kind":"Deployment","name":"x"},"params":{"minReplicas":5,"maxReplicas":2}}`:                      {"above params.maxReplicas"},
		`{"kind":"rollback_image","target":{"namespace":"shop","kind":"Deployment","name":"x"},"params":{}}`:                                              {"params: minProperties", "Exactly one of `image`"},
		`{"kind":"revert_commit","target":{"namespace":"shop","kind":"Deployment","name":"x"},"params":{"commit":"HEAD~1"}}`:                              {"not a commit hash"},
		`{"kind":"scale","target":{"namespace":"shop","kind":"Deployment","name":"x"},"params":{"replicas":2},"extra":1}`:                                 {"unknown field"},
		`{"kind":"scale","target":{"namespace":"shop","kind":"Deployment","name":"x"}}`:                                                                   {"missing property 'params'"},
	}
	for s, wants := range bad {
		_, err := ParseIntent([]byte(s))
		if err == nil {
			t.Errorf("%s: accepted", s)
			continue
		}
		for _, w := range wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", s, err, w)
			}
		}
	}
}

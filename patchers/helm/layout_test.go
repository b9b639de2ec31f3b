package helm

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

func mapRepo(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for p, s := range files {
		m[p] = &fstest.MapFile{Data: []byte(s)}
	}
	return m
}

// deployment is a template for one Deployment whose memory limit is
// written by mem and replicas by reps.
func deployment(name, mem, reps string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ` + name + `
spec:
  replicas: ` + reps + `
  template:
    spec:
      containers:
        - name: app
          image: nginx:1.27
          resources:
            limits:
              memory: ` + mem + `
`
}

// listEnvChart is a chart whose container env is a list in the values.
var listEnvChart = map[string]string{
	"c/Chart.yaml":       "apiVersion: v2\nname: lst\nversion: 0.1.0\n",
	"c/values.yaml":      "app:\n  env:\n    - name: LOG_LEVEL\n      value: info\n",
	"c/values-prod.yaml": "app:\n  env:\n    - name: LOG_LEVEL\n      value: info\n    -   name: MODE # prod mode\n        value: prod\n\n# end\n",
	"c/templates/deploy.yaml": strings.Replace(deployment("lst", "1Gi", "1"), "          resources:\n",
		"          env:\n            {{- toYaml .Values.app.env | nindent 12 }}\n          resources:\n", 1),
}

func with(base map[string]string, path, content string) map[string]string {
	m := map[string]string{}
	for k, v := range base {
		m[k] = v
	}
	m[path] = content
	return m
}

func TestPlanLayouts(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		ns      string
		target  string
		kind    string
		params  string
		file    string
		content string // the edited file's whole new content
		err     string
		is      error
	}{{
		name: "nested key, chart at the root, values-<env>.yaml",
		files: map[string]string{
			"Chart.yaml":          "apiVersion: v2\nname: store\nversion: 0.1.0\n",
			"values.yaml":         "checkout:\n  app:\n    replicas: 2\n    resources:\n      limits:\n        memory: 256Mi\n",
			"values-staging.yaml": "# staging\ncheckout:\n  app:\n    replicas: 1 # keep low\n\n# end\n",
			"values-prod.yaml":    "checkout:\n  app:\n    replicas: 4\n",
			"templates/checkout.yaml": deployment("checkout",
				"{{ .Values.checkout.app.resources.limits.memory }}", "{{ .Values.checkout.app.replicas }}"),
		},
		ns: "store-staging", target: "checkout", kind: "set_resources", params: `{"limits":{"memory":"512Mi"}}`,
		file:    "values-staging.yaml",
		content: "# staging\ncheckout:\n  app:\n    replicas: 1 # keep low\n    resources:\n      limits:\n        memory: 512Mi\n\n# end\n",
	}, {
		name: "top-level resources: {} and four-space indentation",
		files: map[string]string{
			"charts/api/Chart.yaml":            "apiVersion: v2\nname: api\nversion: 0.1.0\n",
			"charts/api/values.yaml":           "replicaCount: 1\nresources:\n  limits:\n    memory: 128Mi\n",
			"charts/api/templates/deploy.yaml": deployment("api", "{{ .Values.resources.limits.memory }}", "{{ .Values.replicaCount }}"),
			"environments/prod/api.yaml":       "replicaCount:   3\nimage:\n    tag: \"1.0\"\nresources: {}   # none yet\n",
		},
		ns: "api", target: "api", kind: "set_resources", params: `{"limits":{"memory":"1Gi"}}`,
		file:    "environments/prod/api.yaml",
		content: "replicaCount:   3\nimage:\n    tag: \"1.0\"\nresources:\n    limits:\n        memory: 1Gi\n",
	}, {
		name: "no environment files: the chart's values.yaml",
		files: map[string]string{
			"chart/Chart.yaml":            "apiVersion: v2\nname: web\nversion: 0.1.0\n",
			"chart/values.yaml":           "# Web defaults.\nweb:\n  replicas: 2 # two zones\n  memory: 64Mi\n",
			"chart/templates/deploy.yaml": deployment("web", "{{ .Values.web.memory }}", "{{ .Values.web.replicas }}"),
		},
		ns: "anywhere", target: "web", kind: "scale", params: `{"replicas":5}`,
		file:    "chart/values.yaml",
		content: "# Web defaults.\nweb:\n  replicas: 5 # two zones\n  memory: 64Mi\n",
	}, {
		name: "hard-coded field",
		files: map[string]string{
			"c/Chart.yaml":            "apiVersion: v2\nname: fixed\nversion: 0.1.0\n",
			"c/values.yaml":           "replicas: 1\nmemory: 128Mi\n",
			"c/values-prod.yaml":      "replicas: 2\n",
			"c/templates/deploy.yaml": deployment("fixed", "128Mi", "{{ .Values.replicas }}"),
		},
		ns: "fixed", target: "fixed", kind: "set_resources", params: `{"limits":{"memory":"1Gi"}}`,
		err: "no values key controls limits.memory of fixed/Deployment/fixed[app]", is: ErrNoValuesKey,
	}, {
		name: "one key for two workloads",
		files: map[string]string{
			"c/Chart.yaml":       "apiVersion: v2\nname: two\nversion: 0.1.0\n",
			"c/values.yaml":      "memory: 128Mi\n",
			"c/values-prod.yaml": "# prod\n",
			"c/templates/a.yaml": deployment("a", "{{ .Values.memory }}", "1"),
			"c/templates/b.yaml": deployment("b", "{{ .Values.memory }}", "1"),
		},
		ns: "two", target: "a", kind: "set_resources", params: `{"limits":{"memory":"1Gi"}}`,
		err: "values key memory controls limits.memory of two/Deployment/a[app] but also Deployment two/b",
	}, {
		name: "values file shared by two charts",
		files: map[string]string{
			"charts/a/Chart.yaml":            "apiVersion: v2\nname: a\nversion: 0.1.0\n",
			"charts/a/values.yaml":           "replicas: 1\n",
			"charts/a/templates/deploy.yaml": deployment("a", "1Gi", "{{ .Values.replicas }}"),
			"charts/b/Chart.yaml":            "apiVersion: v2\nname: b\nversion: 0.1.0\n",
			"charts/b/values.yaml":           "replicas: 1\n",
			"charts/b/templates/deploy.yaml": deployment("b", "1Gi", "{{ .Values.replicas }}"),
			"environments/prod/values.yaml":  "replicas: 2\n",
		},
		ns: "a", target: "a", kind: "scale", params: `{"replicas":3}`,
		err: "the edit to environments/prod/values.yaml also changes chart charts/b's Deployment b/b",
	}, {
		name: "key that also moves another field of the target",
		files: map[string]string{
			"c/Chart.yaml":       "apiVersion: v2\nname: ann\nversion: 0.1.0\n",
			"c/values.yaml":      "memory: 128Mi\n",
			"c/values-prod.yaml": "# prod\n",
			"c/templates/deploy.yaml": strings.Replace(deployment("ann", "{{ .Values.memory }}", "1"),
				"metadata:\n", "metadata:\n  annotations:\n    memory: {{ .Values.memory | quote }}\n", 1),
		},
		ns: "ann", target: "ann", kind: "set_resources", params: `{"limits":{"memory":"1Gi"}}`,
		err: "also changes metadata.annotations.memory of Deployment ann",
	}, {
		name:  "env list: existing variable",
		files: listEnvChart,
		ns:    "lst", target: "lst", kind: "set_env", params: `{"name":"MODE","value":"fast"}`,
		file:    "c/values-prod.yaml",
		content: "app:\n  env:\n    - name: LOG_LEVEL\n      value: info\n    -   name: MODE # prod mode\n        value: fast\n\n# end\n",
	}, {
		name:  "env list: new variable",
		files: listEnvChart,
		ns:    "lst", target: "lst", kind: "set_env", params: `{"name":"GOMEMLIMIT","value":"700MiB"}`,
		file:    "c/values-prod.yaml",
		content: "app:\n  env:\n    - name: LOG_LEVEL\n      value: info\n    -   name: MODE # prod mode\n        value: prod\n    - name: GOMEMLIMIT\n      value: 700MiB\n\n# end\n",
	}, {
		name:  "env list only in the chart's defaults",
		files: with(listEnvChart, "c/values-prod.yaml", "# prod\n"),
		ns:    "lst", target: "lst", kind: "set_env", params: `{"name":"GOMEMLIMIT","value":"700MiB"}`,
		err: "no values key controls env GOMEMLIMIT of lst/Deployment/lst[app]", is: ErrNoValuesKey,
	}, {
		name: "invalid environment values",
		files: map[string]string{
			"c/Chart.yaml":            "apiVersion: v2\nname: bad\nversion: 0.1.0\n",
			"c/values.yaml":           "replicas: 1\n",
			"c/values-prod.yaml":      "replicas: [2\n",
			"c/templates/deploy.yaml": deployment("bad", "1Gi", "{{ .Values.replicas }}"),
		},
		ns: "bad", target: "bad", kind: "scale", params: `{"replicas":3}`,
		err: "values file c/values-prod.yaml is not valid YAML",
	}, {
		name: "template that fails to render",
		files: map[string]string{
			"c/Chart.yaml":            "apiVersion: v2\nname: broken\nversion: 0.1.0\n",
			"c/values.yaml":           "replicas: 1\n",
			"c/values-prod.yaml":      "replicas: 2\n",
			"c/templates/deploy.yaml": deployment("broken", `{{ required "memory is required" .Values.memory }}`, "{{ .Values.replicas }}"),
		},
		ns: "broken", target: "broken", kind: "scale", params: `{"replicas":3}`,
		err: "memory is required",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			repo := mapRepo(tc.files)
			in := intent(t, tc.kind, tc.ns, tc.target, tc.params)
			c, err := New().Plan(context.Background(), repo, in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				if tc.is != nil && !errors.Is(err, tc.is) {
					t.Errorf("error %q is not %v", err, tc.is)
				}
				if len(c.Files) != 0 || c.NoOp {
					t.Errorf("a Change despite the error: %+v", c)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Files) != 1 || c.Files[0].Path != tc.file {
				t.Fatalf("want an edit to %s, got %+v", tc.file, c.Files)
			}
			if got := string(c.Files[0].Content); got != tc.content {
				t.Errorf("content:\n%s\nwant:\n%s", got, tc.content)
			}
		})
	}
}

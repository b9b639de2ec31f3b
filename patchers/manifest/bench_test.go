package manifest

import (
	"context"
	"fmt"
	"testing"
	"testing/fstest"
)

// BenchmarkPlan500 plans one set_resources in a repo of 500 workloads
// (50 folders of 10 files, each a Deployment and a Service): the time per
// intent, reading, parsing, editing, rendering and diffing included.
func BenchmarkPlan500(b *testing.B) {
	repo := fstest.MapFS{}
	for ns := range 50 {
		for w := range 10 {
			repo[fmt.Sprintf("ns%02d/svc%d.yaml", ns, w)] = &fstest.MapFile{Data: []byte(fmt.Sprintf(`# service %[2]d of ns%02[1]d
apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc%[2]d
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: app
          image: ghcr.io/acme/svc%[2]d:1.0.0 # pinned
          resources:
            limits:
              memory: 256Mi
---
apiVersion: v1
kind: Service
metadata:
  name: svc%[2]d
spec:
  ports:
    - port: 80
`, ns, w))}
		}
	}
	in := intent(b, `{"kind":"set_resources","target":{"namespace":"ns25","kind":"Deployment","name":"svc5","container":"app"},"params":{"limits":{"memory":"512Mi"}}}`)
	p := New()
	b.ReportAllocs()
	for b.Loop() {
		ch, err := p.Plan(context.Background(), repo, in)
		if err != nil || len(ch.Files) != 1 {
			b.Fatalf("%+v %v", ch, err)
		}
	}
}

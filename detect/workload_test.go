package detect

import "testing"

func TestWorkloadFrom(t *testing.T) {
	for _, tc := range []struct {
		name  string
		attrs map[string]string
		want  Workload
	}{
		{"deployment attribute", map[string]string{AttrNamespace: "shop", AttrDeployment: "checkout", AttrContainer: "app", AttrPod: "checkout-7d9f8b6c5d-x2x9p"},
			Workload{Namespace: "shop", Kind: "Deployment", Name: "checkout", Container: "app"}},
		{"statefulset attribute wins over pod", map[string]string{AttrNamespace: "db", AttrStatefulSet: "pg", AttrPod: "pg-0"},
			Workload{Namespace: "db", Kind: "StatefulSet", Name: "pg"}},
		{"replicaset name", map[string]string{AttrNamespace: "shop", AttrReplicaSet: "cart-5c6b9d8f4"},
			Workload{Namespace: "shop", Kind: "Deployment", Name: "cart"}},
		{"generated pod name", map[string]string{AttrNamespace: "shop", AttrPod: "catalog-6f8d7c9b5-h4j6l"},
			Workload{Namespace: "shop", Kind: "Deployment", Name: "catalog"}},
		{"statefulset pod name", map[string]string{AttrNamespace: "db", AttrPod: "redis-2"},
			Workload{Namespace: "db", Kind: "StatefulSet", Name: "redis"}},
		{"a pod of unknown controller stays a pod", map[string]string{AttrNamespace: "kube-system", AttrPod: "kube-proxy-x7k2p"},
			Workload{Namespace: "kube-system", Kind: "Pod", Name: "kube-proxy-x7k2p"}},
		{"a hand-named pod", map[string]string{AttrNamespace: "dev", AttrPod: "debug"},
			Workload{Namespace: "dev", Kind: "Pod", Name: "debug"}},
		{"k8s_events involved pod", map[string]string{AttrNamespace: "shop", AttrObjectKind: "Pod", AttrObjectName: "checkout-7d9f8b6c5d-q8w4n"},
			Workload{Namespace: "shop", Kind: "Deployment", Name: "checkout"}},
		{"k8s_events involved deployment", map[string]string{AttrNamespace: "shop", AttrObjectKind: "Deployment", AttrObjectName: "checkout"},
			Workload{Namespace: "shop", Kind: "Deployment", Name: "checkout"}},
		{"service only", map[string]string{AttrService: "payments"},
			Workload{Name: "payments", Service: "payments"}},
		{"nothing", map[string]string{}, Workload{}},
		{"vowels are not a generated hash", map[string]string{AttrNamespace: "x", AttrPod: "api-gateway-router"},
			Workload{Namespace: "x", Kind: "Pod", Name: "api-gateway-router"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := WorkloadFrom(func(k string) (string, bool) { v, ok := tc.attrs[k]; return v, ok })
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestWorkloadKey(t *testing.T) {
	w := Workload{Namespace: "shop", Kind: "Deployment", Name: "checkout", Container: "app"}
	if w.Key() != "shop/Deployment/checkout" || w.String() != "shop/Deployment/checkout[app]" {
		t.Fatalf("key %q string %q", w.Key(), w.String())
	}
	if (Workload{Name: "payments"}).Key() != "/service/payments" {
		t.Fatalf("service key %q", (Workload{Name: "payments"}).Key())
	}
	if got := internKey(w); got != string(appendInternSuffix(appendWorkloadKey(nil, w), w)) || got[:len(w.Key())] != w.Key() {
		t.Fatalf("intern key %q does not start with the workload key", got)
	}
}

package detect

import (
	"reflect"
	"testing"
)

func TestLabelsKeepKeyOrderWithTheSharedInstance(t *testing.T) {
	b := labelsBuilder{}
	b.add("status", "200")
	b.add("a", "1")
	b.add("route", "/cart")
	l := b.labels()
	l.inst = &labelPair{k: "k8s.pod.name", v: "cart-5c6b9d8f4-bx7kz"}
	var keys []string
	l.Each(func(k, _ string) bool { keys = append(keys, k); return true })
	if want := []string{"a", "k8s.pod.name", "route", "status"}; !reflect.DeepEqual(keys, want) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
	if v, ok := l.Get("k8s.pod.name"); !ok || v != "cart-5c6b9d8f4-bx7kz" || l.Len() != 4 {
		t.Fatalf("Get/Len with instance: %q %v %d", v, ok, l.Len())
	}
	if got := l.String(); got != `{a="1", k8s.pod.name="cart-5c6b9d8f4-bx7kz", route="/cart", status="200"}` {
		t.Fatalf("String() = %s", got)
	}
	// The instance sorts last, and alone.
	only := Labels{inst: &labelPair{k: "service.instance.id", v: "i-1"}}
	if m := only.Map(); len(m) != 1 || m["service.instance.id"] != "i-1" {
		t.Fatalf("instance-only labels: %v", m)
	}
	if (Labels{}).Map() != nil {
		t.Fatal("empty labels gave a map")
	}
	// Stopping early stops.
	n := 0
	l.Each(func(string, string) bool { n++; return n < 2 })
	if n != 2 {
		t.Fatalf("Each went on after false: %d calls", n)
	}
}

func TestLabelsFromMapRoundTrip(t *testing.T) {
	m := map[string]string{"b": "2", "a": "", "c": "x=y,z"}
	if got := LabelsFromMap(m).Map(); !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip %v, want %v", got, m)
	}
}

package detect

import (
	"encoding/binary"
	"sort"
	"strings"
)

// Labels is an immutable, compact set of key/value pairs sorted by key:
// the point attributes that, with the workload and signal name, identify a
// series. It is stored as one string (uvarint-length-prefixed keys and
// values), so a series costs one string header plus its bytes, and one
// shared pair: the instance (k8s.pod.name or service.instance.id) that all
// series of a resource have in common, kept once per resource.
type Labels struct {
	enc  string
	inst *labelPair
}

// LabelsFromMap builds Labels from a map.
func LabelsFromMap(m map[string]string) Labels {
	b := labelsBuilder{}
	for k, v := range m {
		b.add(k, v)
	}
	return b.labels()
}

// labelsBuilder collects pairs then sorts and encodes them. Reuse it with reset
// to avoid allocation on the hot path.
type labelsBuilder struct {
	pairs []labelPair
	buf   []byte
}

type labelPair struct{ k, v string }

func (b *labelsBuilder) reset() { b.pairs = b.pairs[:0] }

func (b *labelsBuilder) add(k, v string) { b.pairs = append(b.pairs, labelPair{k, v}) }

// encode sorts the pairs and encodes them into b.buf, returning it (aliasing
// the builder: copy before keeping).
func (b *labelsBuilder) encode() []byte {
	if len(b.pairs) > 1 {
		sort.Slice(b.pairs, func(i, j int) bool { return b.pairs[i].k < b.pairs[j].k })
	}
	b.buf = b.buf[:0]
	for _, p := range b.pairs {
		b.buf = binary.AppendUvarint(b.buf, uint64(len(p.k)))
		b.buf = append(b.buf, p.k...)
		b.buf = binary.AppendUvarint(b.buf, uint64(len(p.v)))
		b.buf = append(b.buf, p.v...)
	}
	return b.buf
}

func (b *labelsBuilder) labels() Labels { return Labels{enc: string(b.encode())} }

// Each calls fn for every pair in key order until fn returns false.
func (l Labels) Each(fn func(k, v string) bool) {
	s := l.enc
	inst := l.inst
	for len(s) > 0 {
		k, rest, ok := nextLabelString(s)
		if !ok {
			break
		}
		v, rest, ok := nextLabelString(rest)
		if !ok {
			break
		}
		if inst != nil && inst.k < k {
			if !fn(inst.k, inst.v) {
				return
			}
			inst = nil
		}
		if !fn(k, v) {
			return
		}
		s = rest
	}
	if inst != nil {
		fn(inst.k, inst.v)
	}
}

func nextLabelString(s string) (string, string, bool) {
	n, w := binary.Uvarint([]byte(s[:min(len(s), binary.MaxVarintLen64)]))
	if w <= 0 || uint64(len(s)-w) < n {
		return "", "", false
	}
	return s[w : w+int(n)], s[w+int(n):], true
}

// Get returns the value of key.
func (l Labels) Get(key string) (string, bool) {
	var out string
	found := false
	l.Each(func(k, v string) bool {
		if k == key {
			out, found = v, true
			return false
		}
		return true
	})
	return out, found
}

// Len counts the pairs.
func (l Labels) Len() int {
	n := 0
	l.Each(func(string, string) bool { n++; return true })
	return n
}

// Map returns the pairs as a new map (nil when empty).
func (l Labels) Map() map[string]string {
	if l.enc == "" && l.inst == nil {
		return nil
	}
	m := map[string]string{}
	l.Each(func(k, v string) bool { m[k] = v; return true })
	return m
}

// String renders {k="v", ...} as Prometheus does.
func (l Labels) String() string {
	var sb strings.Builder
	sb.WriteByte('{')
	first := true
	l.Each(func(k, v string) bool {
		if !first {
			sb.WriteString(", ")
		}
		first = false
		sb.WriteString(k)
		sb.WriteString(`="`)
		sb.WriteString(v)
		sb.WriteByte('"')
		return true
	})
	sb.WriteByte('}')
	return sb.String()
}

// Size is the number of bytes the pairs take (the shared instance pair
// counted in full).
func (l Labels) Size() int {
	n := len(l.enc)
	if l.inst != nil {
		n += len(l.inst.k) + len(l.inst.v)
	}
	return n
}

package detect

import (
	"encoding/base64"
	"errors"
	"math"
	"strconv"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
)

// ValueKind is the type held by an OTLP AnyValue.
type ValueKind uint8

// The AnyValue kinds, numbered as the protobuf oneof fields are.
const (
	KindEmpty  ValueKind = 0
	KindString ValueKind = 1
	KindBool   ValueKind = 2
	KindInt    ValueKind = 3
	KindDouble ValueKind = 4
	KindArray  ValueKind = 5
	KindMap    ValueKind = 6
	KindBytes  ValueKind = 7
)

// ErrMalformed is wrapped by every error about bytes that are not a valid
// OTLP protobuf message; receivers answer it with HTTP 400 / InvalidArgument.
var ErrMalformed = errors.New("malformed OTLP protobuf")

// Value is a read-only view of one encoded OTLP AnyValue. It does not copy:
// it is valid only while the bytes it was made from are, so a consumer that
// keeps a string from it must clone it.
type Value struct {
	kind ValueKind
	num  uint64 // bool, int64 or float64 bits
	raw  []byte // string / bytes contents, or the encoded ArrayValue / KeyValueList
}

// ParseValue reads an encoded AnyValue message.
func ParseValue(b []byte) (Value, error) {
	var v Value
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return Value{}, ErrMalformed
		}
		b = b[n:]
		switch {
		case typ == protowire.BytesType && (num == 1 || num == 5 || num == 6 || num == 7):
			s, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return Value{}, ErrMalformed
			}
			v = Value{kind: ValueKind(num), raw: s}
			b = b[n:]
		case typ == protowire.VarintType && (num == 2 || num == 3):
			x, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return Value{}, ErrMalformed
			}
			v = Value{kind: ValueKind(num), num: x}
			b = b[n:]
		case typ == protowire.Fixed64Type && num == 4:
			x, n := protowire.ConsumeFixed64(b)
			if n < 0 {
				return Value{}, ErrMalformed
			}
			v = Value{kind: KindDouble, num: x}
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return Value{}, ErrMalformed
			}
			b = b[n:]
		}
	}
	return v, nil
}

// Kind reports the type held.
func (v Value) Kind() ValueKind { return v.kind }

// Str returns the string without copying; empty unless Kind is KindString.
// The result aliases the request body: clone it to keep it.
func (v Value) Str() string {
	if v.kind != KindString || len(v.raw) == 0 {
		return ""
	}
	return unsafe.String(&v.raw[0], len(v.raw))
}

// Int returns the integer; 0 unless Kind is KindInt.
func (v Value) Int() int64 {
	if v.kind != KindInt {
		return 0
	}
	return int64(v.num)
}

// Double returns the number for KindDouble and KindInt, else NaN.
func (v Value) Double() float64 {
	switch v.kind {
	case KindDouble:
		return math.Float64frombits(v.num)
	case KindInt:
		return float64(int64(v.num))
	}
	return math.NaN()
}

// Bool returns the boolean; false unless Kind is KindBool.
func (v Value) Bool() bool { return v.kind == KindBool && v.num != 0 }

// Map returns the key/value list held by a KindMap value.
func (v Value) Map() Attrs {
	if v.kind != KindMap {
		return Attrs{}
	}
	return Attrs{list: v.raw, field: 1}
}

// Get looks up key in a KindMap value; the zero Value when absent.
func (v Value) Get(key string) Value {
	x, _ := v.Map().Get(key)
	return x
}

// Each calls fn for every element of a KindArray value until fn returns false.
func (v Value) Each(fn func(Value) bool) error {
	if v.kind != KindArray {
		return nil
	}
	return eachField(v.raw, 1, func(b []byte) (bool, error) {
		x, err := ParseValue(b)
		if err != nil {
			return false, err
		}
		return fn(x), nil
	})
}

// AppendText appends the value's canonical text form: strings as they are,
// numbers in Go's shortest form, bytes in base64, arrays and maps in a
// JSON-like form. Series identity and labels are built from it, so equal
// values always give equal text whatever their encoding.
func (v Value) AppendText(dst []byte) []byte {
	switch v.kind {
	case KindString:
		return append(dst, v.raw...)
	case KindBool:
		return strconv.AppendBool(dst, v.num != 0)
	case KindInt:
		return strconv.AppendInt(dst, int64(v.num), 10)
	case KindDouble:
		return strconv.AppendFloat(dst, math.Float64frombits(v.num), 'g', -1, 64)
	case KindBytes:
		return base64.StdEncoding.AppendEncode(dst, v.raw)
	case KindArray:
		dst = append(dst, '[')
		first := true
		_ = v.Each(func(x Value) bool {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = x.appendQuoted(dst)
			return true
		})
		return append(dst, ']')
	case KindMap:
		dst = append(dst, '{')
		first := true
		_ = v.Map().Each(func(k string, x Value) bool {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = strconv.AppendQuote(dst, k)
			dst = append(dst, ':')
			dst = x.appendQuoted(dst)
			return true
		})
		return append(dst, '}')
	}
	return dst
}

func (v Value) appendQuoted(dst []byte) []byte {
	if v.kind == KindString || v.kind == KindBytes {
		return strconv.AppendQuote(dst, string(v.AppendText(nil)))
	}
	if v.kind == KindEmpty {
		return append(dst, "null"...)
	}
	return v.AppendText(dst)
}

// String returns the canonical text form (a copy).
func (v Value) String() string { return string(v.AppendText(nil)) }

// Attrs is a read-only view of an encoded list of OTLP KeyValue messages: the
// occurrences of one repeated field inside an enclosing message. Like Value it
// aliases the request body.
type Attrs struct {
	list  []byte // the enclosing message (or the part of it holding the field)
	field protowire.Number
}

// NewAttrs views the KeyValue occurrences of field number field in the
// encoded message msg.
func NewAttrs(msg []byte, field protowire.Number) Attrs { return Attrs{list: msg, field: field} }

// Each calls fn with every key and value, in order, until fn returns false.
func (a Attrs) Each(fn func(key string, v Value) bool) error {
	if a.field == 0 {
		return nil
	}
	return eachField(a.list, a.field, func(b []byte) (bool, error) {
		k, v, err := parseKeyValue(b)
		if err != nil {
			return false, err
		}
		return fn(k, v), nil
	})
}

// Get returns the value of key, and whether it was present.
func (a Attrs) Get(key string) (Value, bool) {
	var out Value
	found := false
	_ = a.Each(func(k string, v Value) bool {
		if k == key {
			out, found = v, true
			return false
		}
		return true
	})
	return out, found
}

// GetStr returns the text of key's value, if present and not empty.
func (a Attrs) GetStr(key string) (string, bool) {
	v, ok := a.Get(key)
	if !ok {
		return "", false
	}
	if v.kind == KindString {
		return v.Str(), v.Str() != ""
	}
	s := v.String()
	return s, s != ""
}

// Len counts the attributes.
func (a Attrs) Len() int {
	n := 0
	_ = a.Each(func(string, Value) bool { n++; return true })
	return n
}

// Validate checks that every KeyValue in the list decodes.
func (a Attrs) Validate() error {
	return a.Each(func(string, Value) bool { return true })
}

func parseKeyValue(b []byte) (string, Value, error) {
	var key string
	var val Value
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "", Value{}, ErrMalformed
		}
		b = b[n:]
		if typ == protowire.BytesType && (num == 1 || num == 2) {
			s, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return "", Value{}, ErrMalformed
			}
			b = b[n:]
			if num == 1 {
				if len(s) > 0 {
					key = unsafe.String(&s[0], len(s))
				} else {
					key = ""
				}
				continue
			}
			v, err := ParseValue(s)
			if err != nil {
				return "", Value{}, err
			}
			val = v
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return "", Value{}, ErrMalformed
		}
		b = b[n:]
	}
	return key, val, nil
}

// eachField calls fn with the contents of every length-delimited occurrence
// of field in msg, skipping other fields.
func eachField(msg []byte, field protowire.Number, fn func([]byte) (bool, error)) error {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return ErrMalformed
		}
		msg = msg[n:]
		if num == field && typ == protowire.BytesType {
			s, n := protowire.ConsumeBytes(msg)
			if n < 0 {
				return ErrMalformed
			}
			msg = msg[n:]
			more, err := fn(s)
			if err != nil {
				return err
			}
			if !more {
				return nil
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, msg)
		if n < 0 {
			return ErrMalformed
		}
		msg = msg[n:]
	}
	return nil
}

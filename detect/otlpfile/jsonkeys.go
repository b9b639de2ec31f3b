package otlpfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// signalKeys maps the top-level keys of an OTLP/JSON export request to its
// signal: the lowerCamelCase names the exporter writes and the proto names
// that OTLP/JSON decoders (protojson) accept as well.
var signalKeys = map[string]Signal{
	"resourceMetrics":  SignalMetrics,
	"resource_metrics": SignalMetrics,
	"resourceSpans":    SignalTraces,
	"resource_spans":   SignalTraces,
	"resourceLogs":     SignalLogs,
	"resource_logs":    SignalLogs,
}

// lineSignal returns the signal that the top-level keys of the JSON object b
// name, or "" for an object without keys ("{}", an empty request). It scans
// without decoding values and without recursion (nesting only counts), so a
// deeply nested line costs no stack. A line whose keys name two signals, or
// whose keys name none, is an error: decoding it as one signal would drop the
// rest silently. Full validation is left to the OTLP/JSON conversion.
func lineSignal(b []byte) (Signal, error) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return "", errors.New("not a JSON object")
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		if skipSpace(b, i+1) != len(b) {
			return "", errors.New("text after the JSON object")
		}
		return "", nil
	}
	var sig Signal
	var others []string
	for {
		if i >= len(b) || b[i] != '"' {
			return "", errors.New("expected a key in the top-level object")
		}
		end, err := skipString(b, i)
		if err != nil {
			return "", err
		}
		key := b[i+1 : end-1]
		k, err := keyText(b[i:end])
		if err != nil {
			return "", err
		}
		if s, ok := signalKeys[k]; ok {
			if sig != "" && s != sig {
				return "", fmt.Errorf("the request holds both %s and %s", sig, s)
			}
			sig = s
		} else if len(others) < 3 {
			others = append(others, quoteKey(key))
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return "", errors.New("expected ':' after a key")
		}
		if i, err = skipValue(b, skipSpace(b, i+1)); err != nil {
			return "", err
		}
		i = skipSpace(b, i)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
			continue
		}
		if i < len(b) && b[i] == '}' {
			break
		}
		return "", errors.New("expected ',' or '}' in the top-level object")
	}
	if skipSpace(b, i+1) != len(b) {
		return "", errors.New("text after the JSON object")
	}
	if sig == "" {
		return "", fmt.Errorf("no resourceMetrics, resourceSpans or resourceLogs key (keys: %s)", strings.Join(others, ", "))
	}
	return sig, nil
}

// keyText returns the text of the JSON string token tok (quotes included),
// unescaping it only when it holds an escape.
func keyText(tok []byte) (string, error) {
	inner := tok[1 : len(tok)-1]
	for _, c := range inner {
		if c == '\\' {
			var s string
			if err := json.Unmarshal(tok, &s); err != nil {
				return "", fmt.Errorf("bad key: %w", err)
			}
			return s, nil
		}
	}
	return string(inner), nil
}

// quoteKey quotes an unknown key for an error message, cut to 40 bytes: the
// key comes from the file and is shown, not interpreted.
func quoteKey(k []byte) string {
	if len(k) > 40 {
		return fmt.Sprintf("%q...", k[:40])
	}
	return fmt.Sprintf("%q", k)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the position after the JSON string that starts at
// b[i] == '"'.
func skipString(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, errors.New("unterminated string")
}

// skipValue returns the position after the JSON value that starts at b[i].
// Objects and arrays are skipped by counting brackets outside strings; their
// well-formedness is checked by the conversion that follows.
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errors.New("expected a value")
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := skipString(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errors.New("unterminated object or array")
	}
	j := i
	for j < len(b) {
		switch b[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			if j == i {
				return 0, errors.New("expected a value")
			}
			return j, nil
		}
		j++
	}
	return j, nil
}

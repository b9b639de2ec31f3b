//go:build linux

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// counterQuery selects samples from a Prometheus text exposition: every
// sample named one of Names whose labels include all of Labels.
type counterQuery struct {
	Names  []string
	Labels map[string]string
}

// sum adds the selected samples of the exposition in r; found is false when
// none matched.
func (q counterQuery) sum(r io.Reader) (total float64, found bool, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, labels, value, ok := parseSample(line)
		if !ok || !q.matchName(name) {
			continue
		}
		match := true
		for k, v := range q.Labels {
			if labels[k] != v {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		total += value
		found = true
	}
	return total, found, sc.Err()
}

func (q counterQuery) matchName(name string) bool {
	for _, n := range q.Names {
		if n == name {
			return true
		}
	}
	return false
}

// parseSample splits `name{k="v",...} value [timestamp]`.
func parseSample(line string) (name string, labels map[string]string, value float64, ok bool) {
	rest := line
	if i := strings.IndexAny(line, "{ "); i < 0 {
		return "", nil, 0, false
	} else {
		name, rest = line[:i], line[i:]
	}
	labels = map[string]string{}
	if strings.HasPrefix(rest, "{") {
		end := strings.LastIndexByte(rest, '}')
		if end < 0 {
			return "", nil, 0, false
		}
		for _, pair := range splitLabels(rest[1:end]) {
			k, v, found := strings.Cut(pair, "=")
			if !found {
				continue
			}
			if uq, err := strconv.Unquote(strings.TrimSpace(v)); err == nil {
				v = uq
			}
			labels[strings.TrimSpace(k)] = v
		}
		rest = rest[end+1:]
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return "", nil, 0, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return "", nil, 0, false
	}
	return name, labels, v, true
}

// splitLabels splits `a="x",b="y,z"` on the commas outside quotes.
func splitLabels(s string) []string {
	var out []string
	inQuote, escaped, start := false, false, 0
	for i, c := range s {
		switch {
		case escaped:
			escaped = false
		case c == '\\':
			escaped = true
		case c == '"':
			inQuote = !inQuote
		case c == ',' && !inQuote:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if strings.TrimSpace(s[start:]) != "" {
		out = append(out, s[start:])
	}
	return out
}

// scrape fetches url and sums q over it, within a short deadline.
func scrape(ctx context.Context, url string, q counterQuery) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	v, found, err := q.sum(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("scrape %s: %w", url, err)
	}
	if !found {
		return 0, fmt.Errorf("scrape %s: no sample of %s", url, strings.Join(q.Names, " or "))
	}
	return v, nil
}

package render

import (
	"errors"
	"fmt"
	"time"
)

// Limits bound what one render may cost. Repository content is untrusted:
// a chart template or a kustomize base can ask for unbounded time, memory
// or output, so every render runs in a child process (see sandbox.go) that
// is killed when it passes a limit. The error then names the limit and its
// value.
type Limits struct {
	// Timeout bounds one render's wall time (kustomize build or helm
	// template), from the moment the child receives the repository.
	Timeout time.Duration `yaml:"timeout"`
	// MaxMemoryBytes bounds the memory of the child process that renders.
	MaxMemoryBytes int64 `yaml:"max_memory_bytes"`
	// MaxOutputBytes bounds the rendered YAML stream.
	MaxOutputBytes int64 `yaml:"max_output_bytes"`
	// MaxInputBytes bounds the repository files sent to one render (the
	// whole repository minus .git for kustomize, the chart and values
	// files for Helm), and, times four, what krusty may read in total.
	MaxInputBytes int64 `yaml:"max_input_bytes"`
	// MaxYAMLAliasNodes bounds the nodes YAML aliases may add when a file
	// or a rendered stream is expanded (billion laughs).
	MaxYAMLAliasNodes int64 `yaml:"max_yaml_alias_nodes"`
}

// DefaultLimits returns the limits medic uses unless medic.yaml sets
// others: 30 s, 1 GiB of memory, 64 MiB of output, 128 MiB of input and
// 100,000 alias nodes. A large real render (hundreds of objects) takes well
// under a second and a few MiB; these leave two orders of magnitude of
// room while keeping a hostile render far from the host's memory.
func DefaultLimits() Limits {
	return Limits{
		Timeout:           30 * time.Second,
		MaxMemoryBytes:    1 << 30,
		MaxOutputBytes:    64 << 20,
		MaxInputBytes:     128 << 20,
		MaxYAMLAliasNodes: 100_000,
	}
}

// Validate reports every limit that is not positive, and a memory limit
// too small for a render process to start in.
func (l Limits) Validate() error {
	var errs []error
	if l.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout must be positive, got %v", l.Timeout))
	}
	if l.MaxMemoryBytes < minMemory {
		errs = append(errs, fmt.Errorf("max_memory_bytes must be at least %d, got %d", minMemory, l.MaxMemoryBytes))
	}
	if l.MaxOutputBytes <= 0 {
		errs = append(errs, fmt.Errorf("max_output_bytes must be positive, got %d", l.MaxOutputBytes))
	}
	if l.MaxInputBytes <= 0 {
		errs = append(errs, fmt.Errorf("max_input_bytes must be positive, got %d", l.MaxInputBytes))
	}
	if l.MaxYAMLAliasNodes <= 0 {
		errs = append(errs, fmt.Errorf("max_yaml_alias_nodes must be positive, got %d", l.MaxYAMLAliasNodes))
	}
	return errors.Join(errs...)
}

// minMemory is the least MaxMemoryBytes a render child can start in.
const minMemory = 32 << 20

// ErrLimit is wrapped by every error that reports a passed limit.
var ErrLimit = errors.New("render limit exceeded")

// limitError reports that limit (its medic.yaml key) with value was passed
// while doing what.
func limitError(what, key string, value any) error {
	return fmt.Errorf("%s: %w: %s %v", what, ErrLimit, key, value)
}

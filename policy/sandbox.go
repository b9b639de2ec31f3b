package policy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sync"
	"testing/fstest"
	"time"

	"github.com/medic-bot/medic/patchers/render"
)

// A repository's policy is untrusted code: the capabilities keep it off
// the network and the host, and the timeout bounds its evaluation, but a
// single builtin call (numbers.range, a huge comprehension) can allocate
// gigabytes before OPA looks at its deadline. So repo policies compile and
// evaluate in a child process with the render children's sandbox
// (patchers/render.ServeChild): a memory watchdog and rlimit, a wall-clock
// bound, an answer-size bound, no PATH and no network. The child is killed
// when it passes a limit, and the decision fails closed naming it. The
// embedded default bundle is medic's own code and evaluates in process.

// sandboxService names the policy children.
const sandboxService = "policy"

// DefaultSandboxLimits bound a repo policy's child: 256 MiB of memory,
// 10 s for one compile or evaluation (the evaluation itself also has the
// gate's Timeout), a 1 MiB decision, 4 MiB of policy files.
func DefaultSandboxLimits() render.Limits {
	l := render.DefaultLimits()
	l.Timeout = 10 * time.Second
	l.MaxMemoryBytes = 256 << 20
	l.MaxOutputBytes = 1 << 20
	l.MaxInputBytes = 4 << 20
	return l
}

func init() { render.ServeChild(sandboxService, serveSandbox) }

// sandboxRequest is what the parent sends a policy child.
type sandboxRequest struct {
	// Files are the policy folder's files by slash path, Dir the folder.
	Files map[string][]byte
	Dir   string
	// Sum identifies Files, for the child's cache of compiled gates.
	Sum [sha256.Size]byte
	// Input is the input document's JSON; nil only compiles.
	Input   []byte
	Timeout time.Duration
}

// sandboxAnswer is the child's answer: the decision, or why the policy
// does not compile.
type sandboxAnswer struct {
	Decision   Decision
	CompileErr string
}

// childGates are the gates a child compiled, by files' sum. A child serves
// one request at a time; the map is small and dropped when full.
var childGates = struct {
	sync.Mutex
	m map[[sha256.Size]byte]*OPAGate
}{m: map[[sha256.Size]byte]*OPAGate{}}

func serveSandbox(b []byte) ([]byte, error) {
	var req sandboxRequest
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&req); err != nil {
		return nil, fmt.Errorf("read policy request: %w", err)
	}
	ctx := context.Background()
	childGates.Lock()
	g := childGates.m[req.Sum]
	childGates.Unlock()
	var ans sandboxAnswer
	if g == nil {
		fsys := fstest.MapFS{}
		for name, data := range req.Files {
			fsys[name] = &fstest.MapFile{Data: data}
		}
		var err error
		g, err = compileRepo(ctx, fsys, req.Dir, Options{Timeout: req.Timeout})
		if err != nil {
			ans.CompileErr = err.Error()
			return encodeAnswer(ans)
		}
		childGates.Lock()
		if len(childGates.m) >= 16 {
			clear(childGates.m)
		}
		childGates.m[req.Sum] = g
		childGates.Unlock()
	}
	if req.Input != nil {
		var in Input
		if err := json.Unmarshal(req.Input, &in); err != nil {
			return nil, fmt.Errorf("read policy input: %w", err)
		}
		d, err := g.Decide(ctx, in)
		if err != nil {
			return nil, err
		}
		ans.Decision = d
	}
	return encodeAnswer(ans)
}

func encodeAnswer(a sandboxAnswer) ([]byte, error) {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(a); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// compileRepo loads dir's policy, combined with the defaults as ForRepo
// says, and compiles it.
func compileRepo(ctx context.Context, fsys fs.FS, dir string, opts Options) (*OPAGate, error) {
	rb, err := LoadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	return NewGate(ctx, ForRepo(rb), opts)
}

// sandboxGate evaluates a repo policy in a policy child.
type sandboxGate struct {
	req    sandboxRequest // Files, Dir, Sum, Timeout
	limits render.Limits
}

// newSandboxGate reads dir's policy files and compiles them in a child;
// the error is the compile error (file:line) or a passed limit.
func newSandboxGate(ctx context.Context, fsys fs.FS, dir string, opts Options) (*sandboxGate, error) {
	limits := opts.Sandbox
	if limits == (render.Limits{}) {
		limits = DefaultSandboxLimits()
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	files, sum, err := policyFiles(fsys, dir, limits.MaxInputBytes)
	if err != nil {
		return nil, err
	}
	g := &sandboxGate{req: sandboxRequest{Files: files, Dir: dir, Sum: sum, Timeout: timeout}, limits: limits}
	ans, err := g.call(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("compile policy: %w", err)
	}
	if ans.CompileErr != "" {
		return nil, errors.New(ans.CompileErr)
	}
	return g, nil
}

// Decide evaluates the policy in a child. A child that passes a limit or
// fails gives a fail-closed decision naming why.
func (g *sandboxGate) Decide(ctx context.Context, in Input) (Decision, error) {
	if err := ctx.Err(); err != nil {
		return Decision{}, err
	}
	doc, err := json.Marshal(in)
	if err != nil {
		return FailClosed(fmt.Errorf("encode input: %w", err)), nil
	}
	ans, err := g.call(ctx, doc)
	if err != nil {
		if ctx.Err() != nil {
			return Decision{}, ctx.Err()
		}
		return FailClosed(err), nil
	}
	if ans.CompileErr != "" {
		return FailClosed(errors.New(ans.CompileErr)), nil
	}
	return ans.Decision, nil
}

func (g *sandboxGate) call(ctx context.Context, input []byte) (sandboxAnswer, error) {
	req := g.req
	req.Input = input
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(req); err != nil {
		return sandboxAnswer{}, err
	}
	what := "evaluate policy"
	if input == nil {
		what = "compile policy"
	}
	out, err := g.limits.RunChild(ctx, what, sandboxService, buf.Bytes())
	if err != nil {
		return sandboxAnswer{}, err
	}
	var ans sandboxAnswer
	if err := gob.NewDecoder(bytes.NewReader(out)).Decode(&ans); err != nil {
		return sandboxAnswer{}, fmt.Errorf("%s: read answer: %w", what, err)
	}
	return ans, nil
}

// policyFiles reads the files under dir that LoadDir reads (.rego, .json,
// .yaml, .yml), at most max bytes in all, and their sum (names and
// contents, as folderSum hashes them).
func policyFiles(fsys fs.FS, dir string, max int64) (map[string][]byte, [sha256.Size]byte, error) {
	files := map[string][]byte{}
	var total int64
	h := sha256.New()
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch path.Ext(p) {
		case ".rego", ".json", ".yaml", ".yml":
		default:
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		if total += int64(len(data)); total > max {
			return fmt.Errorf("%w: policy files under %s are larger than max_input_bytes (%d)", render.ErrLimit, dir, max)
		}
		files[p] = data
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(data))
		h.Write(data)
		return nil
	})
	if err != nil {
		return nil, [sha256.Size]byte{}, fmt.Errorf("read policy folder: %w", err)
	}
	var sum [sha256.Size]byte
	copy(sum[:], h.Sum(nil))
	return files, sum, nil
}

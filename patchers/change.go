package patchers

import (
	"context"
	"errors"
	"io/fs"
)

// FileChange is one edited file: its new content and the unified diff from
// the old.
type FileChange struct {
	Path string `json:"path"`
	Diff string `json:"diff"`
	// Content is the file's new content (what --write writes). Not part
	// of the JSON form.
	Content []byte `json:"-"`
	// Deleted says the change removes the file (its diff goes to
	// /dev/null); Content is then empty. Not part of the JSON form.
	Deleted bool `json:"-"`
}

// Object names one Kubernetes object of the rendered manifests.
type Object struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

// Change is what a patcher returns; its JSON form (what `medic patch
// --json` prints, and the policy input's "change") is stable.
type Change struct {
	Files []FileChange `json:"files"`
	// RenderedDiff is the unified diff of the rendered manifests, before
	// to after.
	RenderedDiff   string   `json:"rendered_diff"`
	ChangedObjects []Object `json:"changed_objects"`
	Summary        string   `json:"summary"`
	// NoOp is true when the intent asks for what the repo already says:
	// nothing to propose.
	NoOp bool `json:"no_op,omitempty"`
}

// Patcher plans the Change an Intent needs in one repository layout. It
// reads repo and returns edits; it never writes. Implementations are safe
// for concurrent use.
type Patcher interface {
	// Name is the patcher's name: kustomize, helm, manifest.
	Name() string
	// Detect reports whether the repository holds this patcher's layout.
	Detect(repo fs.FS) bool
	// Plan returns the Change, or an error naming the file and what is
	// wrong; an error means nothing is to be written.
	Plan(ctx context.Context, repo fs.FS, in Intent) (Change, error)
}

// TargetRenderer is implemented by patchers that can render the environment
// holding a target: the directory they would build (overlay, values
// environment, manifest folder) and its rendered manifests. Intents that
// need git history (rollback_image previous, revert_commit) read the target
// at older commits through it.
type TargetRenderer interface {
	RenderTarget(ctx context.Context, repo fs.FS, t Target) (dir string, manifests []byte, err error)
}

// ErrNotSupported is wrapped when a patcher cannot carry out an intent kind
// by itself (the git-history intents, which the history package adds).
var ErrNotSupported = errors.New("not supported")

// ErrNotFound is wrapped when the intent's target is defined nowhere in
// the repository.
var ErrNotFound = errors.New("target not found")

// ErrRefused is wrapped when a plan was made but its rendered result did
// not verify (the field did not take the value, or something besides the
// target changed): the answer is "no", not a bad input.
var ErrRefused = errors.New("plan refused by verification")

// ErrAmbiguous is wrapped when the target is defined more than once and the
// patcher cannot tell which definition controls it.
var ErrAmbiguous = errors.New("target defined more than once")

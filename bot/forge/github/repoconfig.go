package github

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// RepoConfig is a repository's .medic.yaml, read from its default branch.
// It says where medic may act in the repository and how its pull requests
// look; what may merge on its own is still the policy's decision
// (testdata/repoconfig/full.yaml is a commented example).
type RepoConfig struct {
	// Version is the file format's version. Required; only 1 exists.
	Version int `yaml:"version" json:"version"`
	// Environments map repository paths to environment names, which the
	// policy sees as repo.environment. A file belongs to the first
	// environment with a glob matching it. Optional.
	Environments []RepoEnvironment `yaml:"environments,omitempty" json:"environments,omitempty"`
	// Labels are added to every pull request medic opens, besides the
	// labels the policy decides.
	Labels []string `yaml:"labels,omitempty" json:"labels,omitempty"`
	// Reviewers are requested on every pull request medic opens.
	Reviewers RepoReviewers `yaml:"reviewers" json:"reviewers"`
	// Limits bound how many pull requests medic opens.
	Limits RepoLimits `yaml:"limits" json:"limits"`
	// Merge says how medic's pull requests merge.
	Merge RepoMerge `yaml:"merge" json:"merge"`
	// Crew is who proposes changes: CrewPlaybook (the built-in
	// playbooks, the default) or CrewCrewAI (the CrewAI crew).
	Crew string `yaml:"crew" json:"crew"`
	// Policy locates the repository's own Rego policy.
	Policy RepoPolicy `yaml:"policy" json:"policy"`
	// Paused stops medic from opening or merging pull requests in the
	// repository; it still detects and reports.
	Paused bool `yaml:"paused" json:"paused"`
}

// RepoEnvironment names the part of a repository that one environment is
// deployed from.
type RepoEnvironment struct {
	// Name is the environment's name (letters, digits, ".", "_", "-";
	// at most 63), unique in the file.
	Name string `yaml:"name" json:"name"`
	// Paths are globs relative to the repository root, in path.Match
	// syntax plus "**" as a whole segment for any number of directories
	// (e.g. "clusters/prod/**", "apps/*/overlays/prod/**"). At least one.
	Paths []string `yaml:"paths" json:"paths"`
	// Branch is the base branch of pull requests for this environment;
	// empty means the default branch.
	Branch string `yaml:"branch,omitempty" json:"branch,omitempty"`
}

// RepoReviewers are requested as reviewers of medic's pull requests.
type RepoReviewers struct {
	// Users are GitHub logins, without "@".
	Users []string `yaml:"users,omitempty" json:"users,omitempty"`
	// Teams are team slugs of the repository's organization, without the
	// organization ("platform-sre", not "acme/platform-sre").
	Teams []string `yaml:"teams,omitempty" json:"teams,omitempty"`
}

// RepoLimits bound medic's pull requests in one repository.
type RepoLimits struct {
	// MaxOpenPRs is how many of medic's pull requests may be open at once
	// (default 3, at most MaxOpenPRsLimit).
	MaxOpenPRs int `yaml:"max_open_prs" json:"max_open_prs"`
	// PRsPerHour is how many pull requests medic may open in any hour
	// (default 2, at most PRsPerHourLimit).
	PRsPerHour int `yaml:"prs_per_hour" json:"prs_per_hour"`
}

// RepoMerge says how medic's pull requests merge.
type RepoMerge struct {
	// Method is MergeMethodSquash (default), MergeMethodMerge or
	// MergeMethodRebase.
	Method string `yaml:"method" json:"method"`
	// Automerge true (the default) lets the policy decide whether a pull
	// request merges on its own; false means never in this repository,
	// whatever the policy says.
	Automerge bool `yaml:"automerge" json:"automerge"`
}

// RepoPolicy locates a repository's own Rego policy.
type RepoPolicy struct {
	// Path is the folder of .rego files, relative to the repository root
	// (default DefaultRepoPolicyPath); no "..", not inside .git. When the
	// folder does not exist, medic's default policy decides alone.
	Path string `yaml:"path" json:"path"`
}

// Values of RepoConfig fields.
const (
	// RepoConfigVersion is the only .medic.yaml version.
	RepoConfigVersion = 1

	MergeMethodSquash = "squash"
	MergeMethodMerge  = "merge"
	MergeMethodRebase = "rebase"

	CrewPlaybook = "playbook"
	CrewCrewAI   = "crewai"

	DefaultRepoPolicyPath = ".medic/policy"

	// MaxRepoConfigSize is the largest .medic.yaml read, in bytes: room
	// for every environment and glob the limits allow, and a bound on
	// the YAML tree parsed before any check runs.
	MaxRepoConfigSize = 256 << 10

	// MaxOpenPRsLimit and PRsPerHourLimit are the largest limits accepted.
	MaxOpenPRsLimit = 50
	PRsPerHourLimit = 60
)

const (
	maxLabels       = 20
	maxLabelLength  = 50 // GitHub's own limit on a label's name
	maxReviewers    = 15
	maxEnvironments = 100
	maxGlobs        = 100
)

// DefaultRepoConfig is the configuration of a repository without a
// .medic.yaml: version 1, no environments, labels or reviewers, at most 3
// open pull requests and 2 an hour, squash merges that the policy may
// automerge, the playbook crew, policy in .medic/policy, not paused.
func DefaultRepoConfig() RepoConfig {
	return RepoConfig{
		Version: RepoConfigVersion,
		Limits:  RepoLimits{MaxOpenPRs: 3, PRsPerHour: 2},
		Merge:   RepoMerge{Method: MergeMethodSquash, Automerge: true},
		Crew:    CrewPlaybook,
		Policy:  RepoPolicy{Path: DefaultRepoPolicyPath},
	}
}

// RepoConfigError is one problem in a .medic.yaml: where (the key path,
// such as "environments[1].paths[0]", and the line, 0 when unknown) and
// what.
type RepoConfigError struct {
	Path string
	Line int
	Msg  string
}

// Error is "line N: path: message".
func (e *RepoConfigError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ParseRepoConfig reads a .medic.yaml strictly: unknown or repeated keys,
// values of the wrong type, anchors and aliases, several documents, a file
// over MaxRepoConfigSize and every invalid value are errors. The YAML is
// parsed into nodes, which keep an alias as a reference to its anchor, and
// an alias is refused where it is met: nothing is expanded, so memory
// stays proportional to the file's size. It reports every problem at once
// (errors.Join of *RepoConfigError, in line order), each naming the key
// path and line. Keys left out take their DefaultRepoConfig values;
// version is required. An empty file is an error: a missing file means
// defaults, and the caller decides that.
func ParseRepoConfig(data []byte) (RepoConfig, error) {
	if len(data) > MaxRepoConfigSize {
		return RepoConfig{}, fmt.Errorf(".medic.yaml is %d bytes, above the limit of %d (MaxRepoConfigSize)", len(data), MaxRepoConfigSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return RepoConfig{}, errors.New("empty .medic.yaml: write `version: 1`")
		}
		return RepoConfig{}, fmt.Errorf("parse .medic.yaml: %w", err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		line := next.Line
		if err != nil {
			return RepoConfig{}, fmt.Errorf("parse .medic.yaml: %w", err)
		}
		return RepoConfig{}, &RepoConfigError{Line: line, Msg: ".medic.yaml must hold one YAML document, not several"}
	}
	if len(doc.Content) == 0 || isNullNode(doc.Content[0]) {
		return RepoConfig{}, errors.New("empty .medic.yaml: write `version: 1`")
	}

	p := &configParser{lines: map[string]int{"": doc.Content[0].Line}, failed: map[string]bool{}}
	cfg := DefaultRepoConfig()
	cfg.Version = 0 // required
	p.root(doc.Content[0], &cfg)
	for _, prob := range cfg.problems() {
		if p.failedUnder(prob.Path) {
			continue // already reported as a type error
		}
		prob.Line = p.lineOf(prob.Path)
		p.errs = append(p.errs, prob)
	}
	if len(p.errs) == 0 {
		return cfg, nil
	}
	sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].Line < p.errs[j].Line })
	errs := make([]error, len(p.errs))
	for i := range p.errs {
		errs[i] = &p.errs[i]
	}
	return RepoConfig{}, errors.Join(errs...)
}

// Validate reports every invalid value, each naming its key path, joined.
func (c RepoConfig) Validate() error {
	probs := c.problems()
	errs := make([]error, len(probs))
	for i := range probs {
		errs[i] = &probs[i]
	}
	return errors.Join(errs...)
}

// EnvironmentFor is the name of the first environment with a glob
// matching file, a path relative to the repository root ("./" and a
// leading "/" are ignored); ok is false when none matches.
func (c RepoConfig) EnvironmentFor(file string) (name string, ok bool) {
	file = strings.TrimPrefix(path.Clean("/"+file), "/")
	if file == "" {
		return "", false
	}
	segs := strings.Split(file, "/")
	for _, env := range c.Environments {
		for _, g := range env.Paths {
			if globMatch(strings.Split(g, "/"), segs) {
				return env.Name, true
			}
		}
	}
	return "", false
}

// globMatch matches path segments against glob segments, "**" matching
// any number of segments, including none. It runs in time proportional to
// len(pat)*len(name), whatever the number of "**".
func globMatch(pat, name []string) bool {
	// rest[j] reports whether pat[i:] matches name[j:], for i from the end.
	rest := make([]bool, len(name)+1)
	rest[len(name)] = true // the empty pattern matches the empty name
	for i := len(pat) - 1; i >= 0; i-- {
		cur := make([]bool, len(name)+1)
		for j := len(name); j >= 0; j-- {
			switch {
			case pat[i] == "**":
				// Match no segment, or one more segment and stay on **.
				cur[j] = rest[j] || (j < len(name) && cur[j+1])
			case j < len(name):
				ok, err := path.Match(pat[i], name[j])
				cur[j] = err == nil && ok && rest[j+1]
			}
		}
		rest = cur
	}
	return rest[0]
}

var (
	envNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
	loginRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,38}$`)
	teamRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$`)
	branchRE  = regexp.MustCompile(`^[A-Za-z0-9._/-]{1,255}$`)
)

// problems lists every invalid value, by key path, without lines.
func (c RepoConfig) problems() []RepoConfigError {
	var out []RepoConfigError
	add := func(path, format string, args ...any) {
		out = append(out, RepoConfigError{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	switch c.Version {
	case RepoConfigVersion:
	case 0:
		add("version", "required: write `version: 1`")
	default:
		add("version", "unsupported version %d: this medic reads version %d", c.Version, RepoConfigVersion)
	}

	if len(c.Environments) > maxEnvironments {
		add("environments", "at most %d environments, got %d", maxEnvironments, len(c.Environments))
	}
	names := map[string]int{}
	for i, env := range c.Environments {
		at := fmt.Sprintf("environments[%d]", i)
		switch {
		case env.Name == "":
			add(at+".name", "required")
		case !envNameRE.MatchString(env.Name):
			add(at+".name", "%q must be letters, digits, '.', '_' or '-' (at most 63, starting with a letter or digit)", env.Name)
		default:
			if j, dup := names[env.Name]; dup {
				add(at+".name", "environment %q is already defined (environments[%d])", env.Name, j)
			} else {
				names[env.Name] = i
			}
		}
		if len(env.Paths) == 0 {
			add(at+".paths", "at least one glob is required")
		}
		if len(env.Paths) > maxGlobs {
			add(at+".paths", "at most %d globs, got %d", maxGlobs, len(env.Paths))
		}
		for k, g := range env.Paths {
			if err := checkGlob(g); err != "" {
				add(fmt.Sprintf("%s.paths[%d]", at, k), "%s", err)
			}
		}
		if env.Branch != "" {
			if err := checkBranch(env.Branch); err != "" {
				add(at+".branch", "%s", err)
			}
		}
	}

	if len(c.Labels) > maxLabels {
		add("labels", "at most %d labels, got %d", maxLabels, len(c.Labels))
	}
	seenLabels := map[string]bool{}
	for i, l := range c.Labels {
		at := fmt.Sprintf("labels[%d]", i)
		dup := seenLabels[l]
		seenLabels[l] = true
		switch {
		case strings.TrimSpace(l) == "":
			add(at, "a label must not be empty")
		case len([]rune(l)) > maxLabelLength:
			add(at, "label %q is longer than GitHub's %d characters", l, maxLabelLength)
		case dup:
			add(at, "label %q is listed twice", l)
		}
	}

	checkList := func(key string, list []string, re *regexp.Regexp, what string) {
		if len(list) > maxReviewers {
			add(key, "at most %d, got %d", maxReviewers, len(list))
		}
		seen := map[string]bool{}
		for i, s := range list {
			at := fmt.Sprintf("%s[%d]", key, i)
			dup := seen[strings.ToLower(s)]
			seen[strings.ToLower(s)] = true
			switch {
			case strings.HasPrefix(s, "@"):
				add(at, "write %q without the @", s)
			case key == "reviewers.teams" && strings.Contains(s, "/"):
				add(at, "write the team slug without the organization (%q)", s[strings.LastIndex(s, "/")+1:])
			case !re.MatchString(s):
				add(at, "%q is not a valid %s", s, what)
			case dup:
				add(at, "%q is listed twice", s)
			}
		}
	}
	checkList("reviewers.users", c.Reviewers.Users, loginRE, "GitHub login")
	checkList("reviewers.teams", c.Reviewers.Teams, teamRE, "team slug")

	if n := c.Limits.MaxOpenPRs; n < 1 || n > MaxOpenPRsLimit {
		add("limits.max_open_prs", "must be between 1 and %d, got %d", MaxOpenPRsLimit, n)
	}
	if n := c.Limits.PRsPerHour; n < 1 || n > PRsPerHourLimit {
		add("limits.prs_per_hour", "must be between 1 and %d, got %d", PRsPerHourLimit, n)
	}
	switch c.Merge.Method {
	case MergeMethodSquash, MergeMethodMerge, MergeMethodRebase:
	default:
		add("merge.method", "%q must be squash, merge or rebase", c.Merge.Method)
	}
	switch c.Crew {
	case CrewPlaybook, CrewCrewAI:
	default:
		add("crew", "%q must be playbook or crewai", c.Crew)
	}
	if err := checkRepoPath(c.Policy.Path); err != "" {
		add("policy.path", "%s", err)
	}
	return out
}

// checkGlob returns what is wrong with an environment glob, or "".
func checkGlob(g string) string {
	switch {
	case g == "":
		return "a glob must not be empty"
	case strings.HasPrefix(g, "/"):
		return fmt.Sprintf("glob %q must be relative to the repository root (no leading /)", g)
	}
	for _, seg := range strings.Split(g, "/") {
		switch {
		case seg == "":
			return fmt.Sprintf("glob %q has an empty segment (a trailing / or //); write dir/** for a folder", g)
		case seg == "." || seg == "..":
			return fmt.Sprintf("glob %q must not have . or .. segments", g)
		case seg == "**":
		case strings.Contains(seg, "**"):
			return fmt.Sprintf("glob %q: ** must be a whole path segment (a/**/b)", g)
		default:
			if _, err := path.Match(seg, ""); err != nil {
				return fmt.Sprintf("glob %q is malformed: %v", g, err)
			}
		}
	}
	return ""
}

// checkBranch returns what is wrong with a branch name, or "".
func checkBranch(b string) string {
	bad := !branchRE.MatchString(b) ||
		strings.HasPrefix(b, "/") || strings.HasPrefix(b, "-") || strings.HasPrefix(b, ".") ||
		strings.HasSuffix(b, "/") || strings.HasSuffix(b, ".") || strings.HasSuffix(b, ".lock") ||
		strings.Contains(b, "..") || strings.Contains(b, "//") || strings.Contains(b, "/.")
	if bad {
		return fmt.Sprintf("%q is not a valid branch name", b)
	}
	return ""
}

// checkRepoPath returns what is wrong with a repository-relative folder,
// or "".
func checkRepoPath(p string) string {
	switch {
	case p == "":
		return "must not be empty"
	case strings.HasPrefix(p, "/") || strings.Contains(p, "\\"):
		return fmt.Sprintf("%q must be relative to the repository root", p)
	}
	for _, seg := range strings.Split(strings.TrimSuffix(p, "/"), "/") {
		switch {
		case seg == "" || seg == "." || seg == "..":
			return fmt.Sprintf("%q must not have empty, . or .. segments", p)
		case strings.EqualFold(seg, ".git"):
			return fmt.Sprintf("%q must not be inside .git", p)
		}
	}
	return ""
}

// configParser walks the YAML tree, filling a RepoConfig and recording
// the line of every key path.
type configParser struct {
	errs   []RepoConfigError
	lines  map[string]int  // key path -> line
	failed map[string]bool // key paths with a structural error
}

func (p *configParser) fail(n *yaml.Node, path, format string, args ...any) {
	p.failed[path] = true
	p.errs = append(p.errs, RepoConfigError{Path: path, Line: n.Line, Msg: fmt.Sprintf(format, args...)})
}

// lineOf is the line of path, or of its nearest parent that has one.
func (p *configParser) lineOf(path string) int {
	for {
		if l, ok := p.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return p.lines[""]
		}
		path = path[:i]
	}
}

// failedUnder reports whether path or one of its parents failed to decode.
func (p *configParser) failedUnder(path string) bool {
	for {
		if p.failed[path] {
			return true
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return p.failed[""]
		}
		path = path[:i]
	}
}

func isNullNode(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func keyPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// mapping walks a mapping node, calling fields[key] for each key's value
// (not for null values, which keep the default). Unknown and repeated
// keys are errors.
func (p *configParser) mapping(n *yaml.Node, path string, fields map[string]func(v *yaml.Node, path string)) {
	if !p.plain(n, path) {
		return
	}
	if n.Kind != yaml.MappingNode {
		p.fail(n, path, "must be a mapping of %s, got %s", knownKeys(fields), describeNode(n))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || (k.ShortTag() != "!!str" && k.ShortTag() != "!!merge") {
			p.fail(k, path, "keys must be plain strings")
			continue
		}
		at := keyPath(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			p.fail(k, at, "defined twice (first on line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		set, ok := fields[k.Value]
		if !ok {
			p.fail(k, at, "unknown key; %s takes %s", keyOrTop(path), knownKeys(fields))
			continue
		}
		p.lines[at] = k.Line
		if isNullNode(v) {
			continue
		}
		set(v, at)
	}
}

func keyOrTop(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}

func knownKeys(fields map[string]func(*yaml.Node, string)) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// plain refuses aliases, which .medic.yaml does not need.
func (p *configParser) plain(n *yaml.Node, path string) bool {
	if n.Kind == yaml.AliasNode {
		p.fail(n, path, "anchors and aliases are not supported in .medic.yaml")
		return false
	}
	return true
}

func (p *configParser) integer(dst *int) func(*yaml.Node, string) {
	return func(v *yaml.Node, path string) {
		if !p.plain(v, path) {
			return
		}
		var i int
		if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!int" || v.Decode(&i) != nil {
			p.fail(v, path, "must be an integer, got %s", describeNode(v))
			return
		}
		*dst = i
	}
}

func (p *configParser) boolean(dst *bool) func(*yaml.Node, string) {
	return func(v *yaml.Node, path string) {
		if !p.plain(v, path) {
			return
		}
		var b bool
		if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!bool" || v.Decode(&b) != nil {
			p.fail(v, path, "must be true or false, got %s", describeNode(v))
			return
		}
		*dst = b
	}
}

func (p *configParser) str(dst *string) func(*yaml.Node, string) {
	return func(v *yaml.Node, path string) {
		if !p.plain(v, path) {
			return
		}
		if v.Kind != yaml.ScalarNode {
			p.fail(v, path, "must be a string, got %s", describeNode(v))
			return
		}
		*dst = v.Value
	}
}

// list walks a sequence node, calling item for each element with its
// index path.
func (p *configParser) list(v *yaml.Node, path string, item func(v *yaml.Node, path string)) {
	if !p.plain(v, path) {
		return
	}
	if v.Kind != yaml.SequenceNode {
		p.fail(v, path, "must be a list, got %s", describeNode(v))
		return
	}
	for i, e := range v.Content {
		at := fmt.Sprintf("%s[%d]", path, i)
		p.lines[at] = e.Line
		item(e, at)
	}
}

func (p *configParser) strings(dst *[]string) func(*yaml.Node, string) {
	return func(v *yaml.Node, path string) {
		var out []string
		p.list(v, path, func(e *yaml.Node, at string) {
			if !p.plain(e, at) {
				return
			}
			if e.Kind != yaml.ScalarNode || isNullNode(e) {
				p.failed[path] = true // an empty list would be reported too
				p.fail(e, at, "must be a string, got %s", describeNode(e))
				return
			}
			out = append(out, e.Value)
		})
		*dst = out
	}
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	switch n.ShortTag() {
	case "!!null":
		return "nothing"
	case "!!str":
		return fmt.Sprintf("the string %q", n.Value)
	}
	return n.Value
}

func (p *configParser) root(n *yaml.Node, c *RepoConfig) {
	p.mapping(n, "", map[string]func(*yaml.Node, string){
		"version": p.integer(&c.Version),
		"environments": func(v *yaml.Node, path string) {
			var envs []RepoEnvironment
			p.list(v, path, func(e *yaml.Node, at string) {
				var env RepoEnvironment
				p.mapping(e, at, map[string]func(*yaml.Node, string){
					"name":   p.str(&env.Name),
					"paths":  p.strings(&env.Paths),
					"branch": p.str(&env.Branch),
				})
				envs = append(envs, env)
			})
			c.Environments = envs
		},
		"labels": p.strings(&c.Labels),
		"reviewers": func(v *yaml.Node, path string) {
			p.mapping(v, path, map[string]func(*yaml.Node, string){
				"users": p.strings(&c.Reviewers.Users),
				"teams": p.strings(&c.Reviewers.Teams),
			})
		},
		"limits": func(v *yaml.Node, path string) {
			p.mapping(v, path, map[string]func(*yaml.Node, string){
				"max_open_prs": p.integer(&c.Limits.MaxOpenPRs),
				"prs_per_hour": p.integer(&c.Limits.PRsPerHour),
			})
		},
		"merge": func(v *yaml.Node, path string) {
			p.mapping(v, path, map[string]func(*yaml.Node, string){
				"method":    p.str(&c.Merge.Method),
				"automerge": p.boolean(&c.Merge.Automerge),
			})
		},
		"crew": p.str(&c.Crew),
		"policy": func(v *yaml.Node, path string) {
			p.mapping(v, path, map[string]func(*yaml.Node, string){
				"path": p.str(&c.Policy.Path),
			})
		},
		"paused": p.boolean(&c.Paused),
	})
}

package github

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func readRepoConfig(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/repoconfig/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseRepoConfigFull(t *testing.T) {
	got, err := ParseRepoConfig(readRepoConfig(t, "full.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := RepoConfig{
		Version: 1,
		Environments: []RepoEnvironment{
			{Name: "production", Paths: []string{"clusters/prod/**", "apps/*/overlays/prod/**"}, Branch: "main"},
			{Name: "staging", Paths: []string{"clusters/staging/**", "apps/*/overlays/staging/**"}},
		},
		Labels:    []string{"medic", "sre"},
		Reviewers: RepoReviewers{Users: []string{"octocat"}, Teams: []string{"platform-sre"}},
		Limits:    RepoLimits{MaxOpenPRs: 5, PRsPerHour: 3},
		Merge:     RepoMerge{Method: MergeMethodRebase, Automerge: false},
		Crew:      CrewCrewAI,
		Policy:    RepoPolicy{Path: "ops/medic-policy"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseRepoConfig(full.yaml) =\n%+v\nwant\n%+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Error(err)
	}
}

func TestParseRepoConfigDefaults(t *testing.T) {
	got, err := ParseRepoConfig(readRepoConfig(t, "minimal.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, DefaultRepoConfig()) {
		t.Errorf("version-only file = %+v, want the defaults %+v", got, DefaultRepoConfig())
	}
	if err := DefaultRepoConfig().Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
	d := DefaultRepoConfig()
	if d.Limits.MaxOpenPRs != 3 || d.Limits.PRsPerHour != 2 || d.Merge.Method != "squash" || !d.Merge.Automerge ||
		d.Crew != "playbook" || d.Policy.Path != ".medic/policy" || d.Paused {
		t.Errorf("defaults = %+v", d)
	}

	// Null values and keys left out keep their defaults; only what is
	// written changes.
	got, err = ParseRepoConfig([]byte("version: 1\nlabels:\nmerge:\n  method: merge\nlimits: {prs_per_hour: 1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultRepoConfig()
	want.Merge.Method = MergeMethodMerge
	want.Limits.PRsPerHour = 1
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// TestParseRepoConfigInvalid: each invalid file gives one error naming the
// key path and its line.
func TestParseRepoConfigInvalid(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string // the whole error
	}{
		{"empty", "", "empty .medic.yaml: write `version: 1`"},
		{"only comments", "# nothing yet\n", "empty .medic.yaml: write `version: 1`"},
		{"null document", "---\n~\n", "empty .medic.yaml: write `version: 1`"},
		{"no version", "paused: true\n", "line 1: version: required: write `version: 1`"},
		{"null version", "version:\n", "line 1: version: required: write `version: 1`"},
		{"version 2", "version: 2\n", "line 1: version: unsupported version 2: this medic reads version 1"},
		{"version as string", "version: \"1\"\n", `line 1: version: must be an integer, got the string "1"`},
		{"version as float", "version: 1.0\n", "line 1: version: must be an integer, got 1.0"},
		{"unknown top-level key", "version: 1\nautomerge: true\n",
			"line 2: automerge: unknown key; the top level takes crew, environments, labels, limits, merge, paused, policy, reviewers, version"},
		{"unknown nested key", "version: 1\nlimits:\n  max_open_pr: 4\n",
			"line 3: limits.max_open_pr: unknown key; limits takes max_open_prs, prs_per_hour"},
		{"unknown environment key", "version: 1\nenvironments:\n  - name: prod\n    paths: [a/**]\n    namespace: shop\n",
			"line 5: environments[0].namespace: unknown key; environments[0] takes branch, name, paths"},
		{"repeated key", "version: 1\npaused: false\npaused: true\n", "line 3: paused: defined twice (first on line 2)"},
		{"top level is a list", "- version: 1\n", "line 1: must be a mapping of crew, environments, labels, limits, merge, paused, policy, reviewers, version, got a list"},
		{"two documents", "version: 1\n---\nversion: 1\n", "line 2: .medic.yaml must hold one YAML document, not several"},
		{"syntax", "version: 1\nlabels: [a\n", "parse .medic.yaml: yaml: line 1: did not find expected ',' or ']'"},
		{"alias", "version: 1\nlabels: &l [a]\nreviewers:\n  users: *l\n",
			"line 4: reviewers.users: anchors and aliases are not supported in .medic.yaml"},
		{"merge key", "version: 1\nbase: &b {method: merge}\nmerge:\n  <<: *b\n",
			"line 2: base: unknown key; the top level takes crew, environments, labels, limits, merge, paused, policy, reviewers, version\n" +
				"line 4: merge.<<: unknown key; merge takes automerge, method"},
		{"environments not a list", "version: 1\nenvironments:\n  prod: [a/**]\n", "line 3: environments: must be a list, got a mapping"},
		{"environment without name", "version: 1\nenvironments:\n  - paths: [a/**]\n", "line 3: environments[0].name: required"},
		{"environment bad name", "version: 1\nenvironments:\n  - name: prod env\n    paths: [a/**]\n",
			`line 3: environments[0].name: "prod env" must be letters, digits, '.', '_' or '-' (at most 63, starting with a letter or digit)`},
		{"environment names repeat", "version: 1\nenvironments:\n  - name: prod\n    paths: [a/**]\n  - name: prod\n    paths: [b/**]\n",
			`line 5: environments[1].name: environment "prod" is already defined (environments[0])`},
		{"environment without paths", "version: 1\nenvironments:\n  - name: prod\n", "line 3: environments[0].paths: at least one glob is required"},
		{"environment empty paths", "version: 1\nenvironments:\n  - name: prod\n    paths: []\n", "line 4: environments[0].paths: at least one glob is required"},
		{"glob malformed", "version: 1\nenvironments:\n  - name: prod\n    paths:\n      - ok/**\n      - \"apps/[prod/**\"\n",
			`line 6: environments[0].paths[1]: glob "apps/[prod/**" is malformed: syntax error in pattern`},
		{"glob absolute", "version: 1\nenvironments:\n  - name: prod\n    paths: [/clusters/prod/**]\n",
			`line 4: environments[0].paths[0]: glob "/clusters/prod/**" must be relative to the repository root (no leading /)`},
		{"glob dotdot", "version: 1\nenvironments:\n  - name: prod\n    paths: [../prod/**]\n",
			`line 4: environments[0].paths[0]: glob "../prod/**" must not have . or .. segments`},
		{"glob partial doublestar", "version: 1\nenvironments:\n  - name: prod\n    paths: [clusters/prod**]\n",
			`line 4: environments[0].paths[0]: glob "clusters/prod**": ** must be a whole path segment (a/**/b)`},
		{"glob trailing slash", "version: 1\nenvironments:\n  - name: prod\n    paths: [clusters/prod/]\n",
			`line 4: environments[0].paths[0]: glob "clusters/prod/" has an empty segment (a trailing / or //); write dir/** for a folder`},
		{"glob not a string", "version: 1\nenvironments:\n  - name: prod\n    paths: [{a: b}]\n",
			"line 4: environments[0].paths[0]: must be a string, got a mapping"},
		{"bad branch", "version: 1\nenvironments:\n  - name: prod\n    paths: [a/**]\n    branch: release..1\n",
			`line 5: environments[0].branch: "release..1" is not a valid branch name`},
		{"labels not a list", "version: 1\nlabels: medic\n", `line 2: labels: must be a list, got the string "medic"`},
		{"empty label", "version: 1\nlabels: [medic, \"\"]\n", "line 2: labels[1]: a label must not be empty"},
		{"label twice", "version: 1\nlabels:\n  - medic\n  - medic\n", `line 4: labels[1]: label "medic" is listed twice`},
		{"label too long", "version: 1\nlabels: [" + strings.Repeat("x", 51) + "]\n",
			`line 2: labels[0]: label "` + strings.Repeat("x", 51) + `" is longer than GitHub's 50 characters`},
		{"user with @", "version: 1\nreviewers:\n  users: [\"@octocat\"]\n", `line 3: reviewers.users[0]: write "@octocat" without the @`},
		{"bad login", "version: 1\nreviewers:\n  users: [octo_cat]\n", `line 3: reviewers.users[0]: "octo_cat" is not a valid GitHub login`},
		{"team with org", "version: 1\nreviewers:\n  teams: [acme/sre]\n",
			`line 3: reviewers.teams[0]: write the team slug without the organization ("sre")`},
		{"reviewers not a mapping", "version: 1\nreviewers: [octocat]\n",
			"line 2: reviewers: must be a mapping of teams, users, got a list"},
		{"max_open_prs zero", "version: 1\nlimits:\n  max_open_prs: 0\n", "line 3: limits.max_open_prs: must be between 1 and 50, got 0"},
		{"max_open_prs too many", "version: 1\nlimits:\n  max_open_prs: 1000\n", "line 3: limits.max_open_prs: must be between 1 and 50, got 1000"},
		{"prs_per_hour negative", "version: 1\nlimits:\n  prs_per_hour: -1\n", "line 3: limits.prs_per_hour: must be between 1 and 60, got -1"},
		{"prs_per_hour string", "version: 1\nlimits:\n  prs_per_hour: two\n", `line 3: limits.prs_per_hour: must be an integer, got the string "two"`},
		{"limit overflows", "version: 1\nlimits:\n  prs_per_hour: 99999999999999999999\n",
			`line 3: limits.prs_per_hour: must be an integer, got 99999999999999999999`},
		{"merge method", "version: 1\nmerge:\n  method: fast-forward\n", `line 3: merge.method: "fast-forward" must be squash, merge or rebase`},
		{"automerge yes", "version: 1\nmerge:\n  automerge: yes\n", `line 3: merge.automerge: must be true or false, got the string "yes"`},
		{"crew", "version: 1\ncrew: autogen\n", `line 2: crew: "autogen" must be playbook or crewai`},
		{"crew list", "version: 1\ncrew: [playbook]\n", "line 2: crew: must be a string, got a list"},
		{"policy escapes", "version: 1\npolicy:\n  path: ../other/policy\n", `line 3: policy.path: "../other/policy" must not have empty, . or .. segments`},
		{"policy absolute", "version: 1\npolicy:\n  path: /etc/medic\n", `line 3: policy.path: "/etc/medic" must be relative to the repository root`},
		{"policy in .git", "version: 1\npolicy:\n  path: .git/hooks\n", `line 3: policy.path: ".git/hooks" must not be inside .git`},
		{"policy empty", "version: 1\npolicy:\n  path: \"\"\n", "line 3: policy.path: must not be empty"},
		{"policy as string", "version: 1\npolicy: .medic/policy\n", `line 2: policy: must be a mapping of path, got the string ".medic/policy"`},
		{"paused string", "version: 1\npaused: \"true\"\n", `line 2: paused: must be true or false, got the string "true"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseRepoConfig([]byte(tt.yaml))
			if err == nil {
				t.Fatalf("accepted: %+v", cfg)
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n%s\nwant:\n%s", err, tt.want)
			}
			if !reflect.DeepEqual(cfg, RepoConfig{}) {
				t.Errorf("returned a config with the error: %+v", cfg)
			}
		})
	}
}

func TestParseRepoConfigReportsEveryProblem(t *testing.T) {
	data := `version: 2
environments:
  - name: prod
    paths: ["[", ok/**]
  - name: prod
    paths: [b/**]
labels: [medic, medic]
limits:
  max_open_prs: 0
  prs_per_hour: many
merge:
  method: ff
  auto_merge: false
crew: other
policy:
  path: ../x
paused: maybe
`
	_, err := ParseRepoConfig([]byte(data))
	if err == nil {
		t.Fatal("accepted")
	}
	want := []string{
		"line 1: version: unsupported version 2: this medic reads version 1",
		`line 4: environments[0].paths[0]: glob "[" is malformed: syntax error in pattern`,
		`line 5: environments[1].name: environment "prod" is already defined (environments[0])`,
		`line 7: labels[1]: label "medic" is listed twice`,
		"line 9: limits.max_open_prs: must be between 1 and 50, got 0",
		`line 10: limits.prs_per_hour: must be an integer, got the string "many"`,
		`line 12: merge.method: "ff" must be squash, merge or rebase`,
		"line 13: merge.auto_merge: unknown key; merge takes automerge, method",
		`line 14: crew: "other" must be playbook or crewai`,
		`line 16: policy.path: "../x" must not have empty, . or .. segments`,
		`line 17: paused: must be true or false, got the string "maybe"`,
	}
	if got := err.Error(); got != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	var multi interface{ Unwrap() []error }
	if !errors.As(err, &multi) || len(multi.Unwrap()) != len(want) {
		t.Fatalf("error is not a join of %d errors: %#v", len(want), err)
	}
	for _, e := range multi.Unwrap() {
		var ce *RepoConfigError
		if !errors.As(e, &ce) || ce.Line == 0 || ce.Path == "" {
			t.Errorf("%v is not a RepoConfigError with a path and a line", e)
		}
	}
}

func TestRepoConfigValidate(t *testing.T) {
	c := DefaultRepoConfig()
	c.Version = 0
	c.Limits = RepoLimits{}
	c.Merge.Method = ""
	c.Environments = []RepoEnvironment{{Name: "prod"}}
	err := c.Validate()
	want := "version: required: write `version: 1`\n" +
		"environments[0].paths: at least one glob is required\n" +
		"limits.max_open_prs: must be between 1 and 50, got 0\n" +
		"limits.prs_per_hour: must be between 1 and 60, got 0\n" +
		`merge.method: "" must be squash, merge or rebase`
	if err == nil || err.Error() != want {
		t.Errorf("Validate() = %v\nwant:\n%s", err, want)
	}
}

func TestEnvironmentFor(t *testing.T) {
	cfg, err := ParseRepoConfig(readRepoConfig(t, "full.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Environments = append(cfg.Environments,
		RepoEnvironment{Name: "shared", Paths: []string{"base/**/kustomization.yaml", "charts/*/values-?.yaml", "[a-c]*/x"}})
	tests := []struct {
		path string
		want string
		ok   bool
	}{
		{"clusters/prod/shop/deployment.yaml", "production", true},
		{"clusters/prod", "production", true}, // ** matches no segment too
		{"./clusters/prod/a.yaml", "production", true},
		{"/clusters/prod/a.yaml", "production", true},
		{"apps/checkout/overlays/prod/patch.yaml", "production", true},
		{"apps/checkout/overlays/staging/deep/er/patch.yaml", "staging", true},
		{"apps/checkout/extra/overlays/prod/patch.yaml", "", false}, // * is one segment
		{"clusters/production/a.yaml", "", false},
		{"base/kustomization.yaml", "shared", true},
		{"base/a/b/c/kustomization.yaml", "shared", true},
		{"base/a/deployment.yaml", "", false},
		{"charts/shop/values-1.yaml", "shared", true},
		{"charts/shop/values-10.yaml", "", false},
		{"bin/x", "shared", true},
		{"README.md", "", false},
		{"", "", false},
		{".", "", false},
	}
	for _, tt := range tests {
		got, ok := cfg.EnvironmentFor(tt.path)
		if got != tt.want || ok != tt.ok {
			t.Errorf("EnvironmentFor(%q) = %q, %v; want %q, %v", tt.path, got, ok, tt.want, tt.ok)
		}
	}
	// Many ** do not make matching exponential.
	many := RepoConfig{Environments: []RepoEnvironment{{Name: "x", Paths: []string{strings.Repeat("**/a/", 40) + "b"}}}}
	if _, ok := many.EnvironmentFor(strings.Repeat("a/", 80) + "c"); ok {
		t.Error("matched a path without b")
	}
	if _, ok := many.EnvironmentFor(strings.Repeat("a/", 80) + "b"); !ok {
		t.Error("did not match")
	}
	// First match wins.
	c := RepoConfig{Environments: []RepoEnvironment{{Name: "a", Paths: []string{"**"}}, {Name: "b", Paths: []string{"x/**"}}}}
	if got, _ := c.EnvironmentFor("x/y"); got != "a" {
		t.Errorf("first match: got %q, want a", got)
	}
}

func FuzzParseRepoConfig(f *testing.F) {
	f.Add(readRepoConfig(f, "full.yaml"))
	f.Add(readRepoConfig(f, "minimal.yaml"))
	f.Add([]byte(""))
	f.Add([]byte("version: 1\nenvironments:\n  - name: a\n    paths: ['**/x', 'a/*/b']\n"))
	f.Add([]byte("version: 1\nlabels: &a [x]\nreviewers: {users: *a}\n"))
	f.Add([]byte("version: 1\nlimits: {max_open_prs: 0x10}\nmerge: {automerge: !!bool true}\n"))
	f.Add([]byte("version: 1\n---\n"))
	f.Add([]byte(aliasBomb(3, 3)))
	f.Add([]byte("version: 1\nenvironments:\n  - &e {name: a, paths: [x/**]}\n  - *e\n<<: {paused: true}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseRepoConfig(data)
		if err != nil {
			if !reflect.DeepEqual(cfg, RepoConfig{}) {
				t.Fatalf("config returned with an error: %+v", cfg)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("ParseRepoConfig accepted an invalid config: %v\n%s", err, data)
		}
		// What parses writes back to a file that parses the same.
		out, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseRepoConfig(out)
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(cfg, again) {
			t.Fatalf("round trip changed the config:\n%+v\n%+v", cfg, again)
		}
		for _, env := range cfg.Environments {
			for _, g := range env.Paths {
				cfg.EnvironmentFor(g) // must not panic
			}
		}
	})
}

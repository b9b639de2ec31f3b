package githubtest

import (
	"encoding/json"
	"sort"
	"strconv"
	"testing"
)

// knownBadExamples are response examples of GitHub's description that
// fail its own schemas, by "METHOD path status example". Examples are
// fixtures, not truth; the double validates its own responses and never
// replays these.
var knownBadExamples = map[string]string{
	// The example repository (and its source) lack the required language.
	"GET /repos/{owner}/{repo} 200 default-response": "missing language",
	// The example's user lacks role_name, required by collaborator.
	"GET /repos/{owner}/{repo}/collaborators/{username}/permission 200 response-if-user-has-admin-permissions": "user without role_name",
	// The pull request examples' requested_teams lack the required type.
	"GET /repos/{owner}/{repo}/pulls 200 default":                                    "team without type",
	"POST /repos/{owner}/{repo}/pulls 201 default":                                   "team without type",
	"GET /repos/{owner}/{repo}/pulls/{pull_number} 200 default":                      "team without type",
	"PATCH /repos/{owner}/{repo}/pulls/{pull_number} 200 default":                    "team without type",
	"POST /repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers 201 default": "team without type",
}

// TestDescriptionExamples validates the response examples of the subset
// against their schemas: the validator must agree with GitHub's own
// examples, except the known bad ones.
func TestDescriptionExamples(t *testing.T) {
	s, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	checked := 0
	for _, op := range s.ops {
		responses, _ := op.raw["responses"].(map[string]any)
		for code, r := range responses {
			status, err := strconv.Atoi(code)
			if err != nil {
				continue
			}
			resp, _ := s.resolve(r).(map[string]any)
			content, _ := resp["content"].(map[string]any)
			mt, _ := content["application/json"].(map[string]any)
			examples, _ := mt["examples"].(map[string]any)
			for name, ex := range examples {
				exm, _ := s.resolve(ex).(map[string]any)
				value, ok := exm["value"]
				if !ok {
					continue
				}
				body, err := json.Marshal(value)
				if err != nil {
					t.Fatal(err)
				}
				checked++
				key := op.key + " " + code + " " + name
				err = s.validateResponse(op, status, body)
				if err != nil {
					failed = append(failed, key)
					if _, known := knownBadExamples[key]; !known {
						t.Errorf("%s: %v", key, err)
					}
				} else if _, known := knownBadExamples[key]; known {
					t.Errorf("%s is listed as a bad example but validates", key)
				}
			}
		}
	}
	sort.Strings(failed)
	t.Logf("%d examples checked, %d known bad: %q", checked, len(failed), failed)
}

package githubtest

import (
	"net/url"
	"testing"
)

func TestSpecRoutes(t *testing.T) {
	s, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method, path, key string
		params            map[string]string
	}{
		{"GET", "/repos/o/r/contents/a/b%20c.yaml", "GET /repos/{owner}/{repo}/contents/{path}", map[string]string{"owner": "o", "repo": "r", "path": "a/b c.yaml"}},
		{"DELETE", "/repos/o/r/git/refs/heads/medic/x-scale", "DELETE /repos/{owner}/{repo}/git/refs/{ref}", map[string]string{"owner": "o", "repo": "r", "ref": "heads/medic/x-scale"}},
		{"GET", "/repos/o/r/commits/medic/x/check-runs", "GET /repos/{owner}/{repo}/commits/{ref}/check-runs", map[string]string{"owner": "o", "repo": "r", "ref": "medic/x"}},
		{"POST", "/repos/o/r/issues/comments/5/reactions", "POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", map[string]string{"owner": "o", "repo": "r", "comment_id": "5"}},
		{"GET", "/repos/o/r", "GET /repos/{owner}/{repo}", map[string]string{"owner": "o", "repo": "r"}},
		{"GET", "/repos/o/r/pulls/3", "GET /repos/{owner}/{repo}/pulls/{pull_number}", map[string]string{"owner": "o", "repo": "r", "pull_number": "3"}},
		{"GET", "/repos/o/r/branches", "", nil},
	}
	for _, tc := range tests {
		op, params, _ := s.route(tc.method, tc.path)
		if tc.key == "" {
			if op != nil {
				t.Errorf("%s %s routed to %s", tc.method, tc.path, op.key)
			}
			continue
		}
		if op == nil || op.key != tc.key {
			t.Errorf("%s %s: got %v, want %s", tc.method, tc.path, op, tc.key)
			continue
		}
		for k, v := range tc.params {
			if params[k] != v {
				t.Errorf("%s %s: %s = %q, want %q", tc.method, tc.path, k, params[k], v)
			}
		}
	}
}

func TestSpecValidatesRequests(t *testing.T) {
	s, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	op, params, _ := s.route("POST", "/repos/o/r/pulls")
	h := map[string][]string{"X-GitHub-Api-Version": {"2022-11-28"}}
	if err := s.validateRequest(op, params, url.Values{}, h, "application/json", []byte(`{"title":"t","head":"b","base":"main"}`)); err != nil {
		t.Errorf("valid request: %v", err)
	}
	if err := s.validateRequest(op, params, url.Values{}, h, "application/json", []byte(`{"title":"t","base":"main"}`)); err == nil {
		t.Error("a pull request without head passed")
	}
	if err := s.validateRequest(op, params, url.Values{}, map[string][]string{"X-Github-Api-Version": {"2021-01-01"}}, "application/json", []byte(`{"title":"t","head":"b","base":"main"}`)); err == nil {
		t.Error("a wrong API version passed")
	}
	op, params, _ = s.route("GET", "/repos/o/r/pulls")
	if err := s.validateRequest(op, params, url.Values{"state": {"bogus"}}, h, "", nil); err == nil {
		t.Error("state=bogus passed")
	}
	if err := s.validateRequest(op, params, url.Values{"state": {"open"}, "per_page": {"10"}}, h, "", nil); err != nil {
		t.Errorf("valid list: %v", err)
	}
	if err := s.validateRequest(op, params, url.Values{"per_page": {"ten"}}, h, "", nil); err == nil {
		t.Error("per_page=ten passed")
	}
	op, params, _ = s.route("POST", "/app/installations/1/access_tokens")
	if err := s.validateRequest(op, params, nil, h, "application/json", []byte("null")); err != nil {
		t.Errorf("null token body: %v", err)
	}
	if err := s.validateResponse(op, 401, []byte(`{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`)); err != nil {
		t.Errorf("401: %v", err)
	}
	if err := s.validateResponse(op, 201, []byte(`{"token":"x"}`)); err == nil {
		t.Error("an incomplete token passed")
	}
}

package github

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/medic-bot/medic/bot/forge"
	"github.com/medic-bot/medic/bot/forge/forgetest"
	"github.com/medic-bot/medic/bot/forge/githubtest"
	"github.com/medic-bot/medic/bot/redact"
)

// echoed are credentials a remote might echo in an error.
var echoed = []string{
	"ghs_" + strings.Repeat("Echo9", 8),
	"eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiI0MiJ9.c2lnbmF0dXJl",
	"Bearer " + "0123456789abcdef0123",
}

func echoMessage() string {
	return "Bad credentials for " + strings.Join(echoed, ", ")
}

func checkScrubbed(t *testing.T, what, s string) {
	t.Helper()
	for _, secret := range []string{echoed[0], echoed[1], "0123456789abcdef0123"} {
		if strings.Contains(s, secret) {
			t.Errorf("%s carries %q: %s", what, secret, s)
		}
	}
	if !strings.Contains(s, redact.Marker) {
		t.Errorf("%s does not say %s: %s", what, redact.Marker, s)
	}
}

// A GitHub error body echoing credentials reaches neither the returned
// error nor the log, through the real go-github client; the error still
// classifies (403 is permanent).
func TestRESTErrorScrubbed(t *testing.T) {
	h := newHarness(t, githubtest.RepoOptions{}, nil)
	var logs bytes.Buffer
	h.forge.logger = slog.New(slog.NewTextHandler(&logs, nil))
	h.api.FailNext("POST", `/repos/acme/infra/pulls$`, 1, http.StatusForbidden, nil, echoMessage())
	_, err := h.forge.Propose(t.Context(), forgetest.NewRequest(h, "inc-s", "scale", map[string]string{"a.yaml": "replicas: 3\n"}))
	if err == nil {
		t.Fatal("Propose succeeded against a failing GitHub")
	}
	checkScrubbed(t, "the error", err.Error())
	checkScrubbed(t, "the error wrapped again", errors.Join(errors.New("handle"), err).Error())
	if !forge.IsPermanent(err) {
		t.Errorf("a 403 is no longer permanent: %v", err)
	}
	if strings.Contains(logs.String(), echoed[0]) {
		t.Errorf("the log carries the token: %s", logs.String())
	}
}

// The same for GraphQL errors (HTTP 200 with errors), whose messages are
// scrubbed where they are decoded.
func TestGraphQLErrorScrubbed(t *testing.T) {
	h := newHarness(t, githubtest.RepoOptions{}, nil)
	gql := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"errors":[{"type":"FORBIDDEN","message":"` + echoMessage() + `"}]}`))
	}))
	defer gql.Close()
	h.app.graphqlURL = gql.URL
	err := h.forge.enableAutoMerge(t.Context(), h.repo, "PR_1", "merge")
	var ge *GraphQLError
	if !errors.As(err, &ge) {
		t.Fatalf("not a GraphQLError: %v", err)
	}
	checkScrubbed(t, "the GraphQL error", err.Error())
	checkScrubbed(t, "the GraphQL message", ge.Errors[0].Message)

}

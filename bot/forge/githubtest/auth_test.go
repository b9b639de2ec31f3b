package githubtest

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

func TestAppJWTChecks(t *testing.T) {
	s := New(t)
	s.AddRepo(RepoOptions{Owner: owner, Name: repo})
	inst := s.Installation(owner, repo)
	now := time.Now()
	sign := func(method jwt.SigningMethod, claims jwt.MapClaims) string {
		var key any = s.key
		if method == jwt.SigningMethodHS256 {
			key = []byte("secret")
		}
		tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	id := strconv.FormatInt(s.AppID(), 10)
	tests := []struct {
		name string
		tok  string
		want int
	}{
		{"iss string", sign(jwt.SigningMethodRS256, jwt.MapClaims{"iss": id, "iat": now.Add(-30 * time.Second).Unix(), "exp": now.Add(9 * time.Minute).Unix()}), 201},
		{"iss number", sign(jwt.SigningMethodRS256, jwt.MapClaims{"iss": s.AppID(), "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}), 201},
		{"other app", sign(jwt.SigningMethodRS256, jwt.MapClaims{"iss": "1", "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}), 401},
		{"expired", sign(jwt.SigningMethodRS256, jwt.MapClaims{"iss": id, "iat": now.Add(-20 * time.Minute).Unix(), "exp": now.Add(-10 * time.Minute).Unix()}), 401},
		{"too long", sign(jwt.SigningMethodRS256, jwt.MapClaims{"iss": id, "iat": now.Unix(), "exp": now.Add(11 * time.Minute).Unix()}), 401},
		{"issued in the future", sign(jwt.SigningMethodRS256, jwt.MapClaims{"iss": id, "iat": now.Add(5 * time.Minute).Unix(), "exp": now.Add(9 * time.Minute).Unix()}), 401},
		{"HS256", sign(jwt.SigningMethodHS256, jwt.MapClaims{"iss": id, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}), 401},
		{"not a JWT", "ghs_abc", 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", s.RESTURL()+"app/installations/"+strconv.FormatInt(inst, 10)+"/access_tokens", nil)
			req.Header.Set("Authorization", "Bearer "+tc.tok)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tc.want {
				t.Errorf("status %d, want %d", res.StatusCode, tc.want)
			}
		})
	}
	req, _ := http.NewRequest("POST", s.RESTURL()+"app/installations/999999/access_tokens", nil)
	req.Header.Set("Authorization", "Bearer "+s.AppJWT())
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 404 {
		t.Errorf("unknown installation: %v %v", err, res)
	}
}

// TestOwnResponsesAreValidated checks the point of the double: a response
// of its own that does not match the description is reported.
func TestOwnResponsesAreValidated(t *testing.T) {
	ft := &fakeTB{TB: t}
	s := New(ft)
	op, _, _ := s.spec.route("GET", "/repos/o/r/pulls/1")
	req := httptest.NewRequest("GET", "/api/v3/repos/o/r/pulls/1", nil)
	// A pull request whose number is a string, and whose state is not an
	// enum value.
	s.send(httptest.NewRecorder(), op, req, reply{status: 200, body: map[string]any{"number": "1", "state": "draft"}})
	// A status the operation does not describe.
	s.send(httptest.NewRecorder(), op, req, reply{status: 201, body: map[string]any{"number": 1}})
	errs := s.Errors()
	if len(errs) != 2 || !strings.Contains(errs[0], "/number") || !strings.Contains(errs[1], "201") {
		t.Errorf("errors %q", errs)
	}
	ft.cleanup()
	if len(ft.errors()) != 2 {
		t.Errorf("reported %q", ft.errors())
	}
}

package github

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGraphQLURL(t *testing.T) {
	for api, want := range map[string]string{
		"":                                "https://api.github.com/graphql",
		"https://api.github.com/":         "https://api.github.com/graphql",
		"https://ghe.example.com/api/v3/": "https://ghe.example.com/api/graphql",
		"https://ghe.example.com/api/v3":  "https://ghe.example.com/api/graphql",
		"http://127.0.0.1:8443/api/v3/":   "http://127.0.0.1:8443/api/graphql",
	} {
		got, err := Config{APIURL: api}.graphQLURL()
		if err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", api, got, err, want)
		}
	}
	if got, _ := (Config{APIURL: "https://ghe/api/v3/", GraphQLURL: "https://gql.example/x"}).graphQLURL(); got != "https://gql.example/x" {
		t.Errorf("explicit graphql_url ignored: %q", got)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("no App configured must be valid: %v", err)
	}
	err := Config{AppID: 1, APIURL: "ftp://x", Retry: RetryConfig{MaxRetries: 99}}.Validate()
	for _, want := range []string{"private_key_file", "api_url", "cache_dir", "commit_author", "max_retries", "backoff"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate does not report %s: %v", want, err)
		}
	}
	if err := (Config{AppID: 1, APIURL: "https://user:pw@ghe/api/v3/"}).Validate(); err == nil || !strings.Contains(err.Error(), "credentials") {
		t.Errorf("credentials in api_url: %v", err)
	}
}

func TestFromEnvAndSecret(t *testing.T) {
	env := map[string]string{"MEDIC_GITHUB_APP_ID": "77", "MEDIC_GITHUB_PRIVATE_KEY_FILE": "/k.pem", "MEDIC_GITHUB_API_URL": "https://ghe/api/v3/"}
	c, err := DefaultConfig().FromEnv(func(k string) string { return env[k] })
	if err != nil || c.AppID != 77 || c.PrivateKeyFile != "/k.pem" || c.APIURL != "https://ghe/api/v3/" {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := DefaultConfig().FromEnv(func(k string) string { return map[string]string{"MEDIC_GITHUB_APP_ID": "-3"}[k] }); err == nil {
		t.Error("a negative app id was accepted")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "secret")
	os.WriteFile(p, []byte("  hunter2\n"), 0o600)
	s, err := Config{WebhookSecretFile: p}.WebhookSecret(func(string) string { return "" })
	if err != nil || string(s) != "hunter2" {
		t.Errorf("secret file: %q %v", s, err)
	}
	os.WriteFile(p, []byte("\n"), 0o600)
	if _, err := (Config{WebhookSecretFile: p}).WebhookSecret(func(string) string { return "" }); err == nil {
		t.Error("an empty secret file was accepted")
	}
	s, _ = Config{WebhookSecretFile: p}.WebhookSecret(func(k string) string { return map[string]string{"MEDIC_GITHUB_WEBHOOK_SECRET": "env"}[k] })
	if string(s) != "env" {
		t.Errorf("the environment must win: %q", s)
	}
}

func TestNewAppRejectsBadKeyWithoutQuotingIt(t *testing.T) {
	key := []byte("-----BEGIN RSA PRIVATE KEY-----\nnot-a-key-but-secret-material\n-----END RSA PRIVATE KEY-----\n")
	_, err := NewApp(Config{AppID: 1}, key, nil, nil)
	if err == nil {
		t.Fatal("a bad key was accepted")
	}
	if strings.Contains(err.Error(), "secret-material") {
		t.Fatalf("the error quotes the key: %v", err)
	}
}

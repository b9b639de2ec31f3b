package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "version")
	if code != exitOK || !strings.HasPrefix(out, "medic ") {
		t.Fatalf("version: %d %q", code, out)
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--no-such-flag"},
		{"serve", "--config", filepath.Join(t.TempDir(), "missing.yaml")},
		{"serve", "--otlp-grpc", "not an address"},
		{"demo", "--scenario", "no-such-scenario"},
		{"no-such-command"},
	} {
		code, _, stderr := runCLI(t, args...)
		if code != exitUsage || !strings.HasPrefix(stderr, "medic: ") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a reason", args, code, stderr)
		}
	}
}

// TestDemoScenarios runs each demo scenario through the real CLI path
// (in-process medic, OTLP/gRPC on loopback): the sick workload is found and
// nothing else, so each exits 0.
func TestDemoScenarios(t *testing.T) {
	for _, sc := range []string{"memory-leak", "bad-deploy", "healthy"} {
		t.Run(sc, func(t *testing.T) {
			code, out, stderr := runCLI(t, "demo", "--scenario", sc)
			if code != exitOK {
				t.Fatalf("demo %s: exit %d\n%s\n%s", sc, code, out, stderr)
			}
			if !strings.Contains(out, "not built yet") {
				t.Errorf("demo does not say what is missing:\n%s", out)
			}
		})
	}
}

func TestServeGitHubEnvErrors(t *testing.T) {
	t.Setenv("MEDIC_GITHUB_APP_ID", "not-a-number")
	if code, _, stderr := runCLI(t, "serve", "--http", "127.0.0.1:0", "--otlp-grpc", "127.0.0.1:0", "--otlp-http", "127.0.0.1:0"); code != exitUsage || !strings.Contains(stderr, "MEDIC_GITHUB_APP_ID") {
		t.Fatalf("bad app id: exit %d, %s", code, stderr)
	}
	t.Setenv("MEDIC_GITHUB_APP_ID", "12")
	t.Setenv("MEDIC_GITHUB_PRIVATE_KEY_FILE", filepath.Join(t.TempDir(), "nope.pem"))
	t.Setenv("MEDIC_GITHUB_WEBHOOK_SECRET", "x")
	if code, _, stderr := runCLI(t, "serve", "--http", "127.0.0.1:0", "--otlp-grpc", "127.0.0.1:0", "--otlp-http", "127.0.0.1:0"); code != exitUsage || !strings.Contains(stderr, "nope.pem") {
		t.Fatalf("missing key: exit %d, %s", code, stderr)
	}
}

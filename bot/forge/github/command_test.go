package github

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Command
		ok   bool
	}{
		{"plain", "/medic explain", Command{Verb: VerbExplain, Line: "/medic explain"}, true},
		{"each verb retry", "/medic retry", Command{Verb: VerbRetry, Line: "/medic retry"}, true},
		{"each verb revert", "/medic revert", Command{Verb: VerbRevert, Line: "/medic revert"}, true},
		{"each verb close", "/medic close", Command{Verb: VerbClose, Line: "/medic close"}, true},
		{"spaces around", "   /medic   retry   \r\n", Command{Verb: VerbRetry, Line: "/medic retry"}, true},
		{"case-insensitive verb", "/medic ReTrY", Command{Verb: VerbRetry, Line: "/medic ReTrY"}, true},
		{"case-insensitive prefix", "/Medic close", Command{Verb: VerbClose, Line: "/Medic close"}, true},
		{"args kept", "/medic revert because it broke checkout",
			Command{Verb: VerbRevert, Args: []string{"because", "it", "broke", "checkout"}, Line: "/medic revert because it broke checkout"}, true},
		{"after prose", "Thanks!\n\n/medic explain\n", Command{Verb: VerbExplain, Line: "/medic explain"}, true},
		{"first wins", "/medic close\n/medic retry", Command{Verb: VerbClose, Line: "/medic close"}, true},
		{"unknown verb", "/medic Deploy now", Command{Unknown: "deploy", Args: []string{"now"}, Line: "/medic Deploy now"}, true},
		{"bare prefix", "/medic", Command{Line: "/medic"}, true},
		{"not the first word", "please /medic retry", Command{}, false},
		{"longer word", "/medicine retry", Command{}, false},
		{"no command", "LGTM", Command{}, false},
		{"empty", "", Command{}, false},
		{"quoted", "> /medic close\nI disagree", Command{}, false},
		{"quoted then real", "> /medic close\n/medic explain", Command{Verb: VerbExplain, Line: "/medic explain"}, true},
		{"fenced", "```\n/medic close\n```", Command{}, false},
		{"fenced with info", "```sh\n/medic close\n```\n", Command{}, false},
		{"tilde fence", "~~~\n/medic close\n~~~", Command{}, false},
		{"after fence", "```\n/medic close\n```\n/medic retry", Command{Verb: VerbRetry, Line: "/medic retry"}, true},
		{"longer closing fence needed", "````\n```\n/medic close\n````\n/medic explain", Command{Verb: VerbExplain, Line: "/medic explain"}, true},
		{"unclosed fence", "```\n/medic close", Command{}, false},
		{"indented code", "    /medic close", Command{}, false},
		{"tab code", "\t/medic close", Command{}, false},
		{"html comment", "<!-- /medic close -->", Command{}, false},
		{"multi-line html comment", "<!--\n/medic close\n-->\nthanks", Command{}, false},
		{"after html comment", "<!--\ntemplate\n-->\n/medic retry", Command{Verb: VerbRetry, Line: "/medic retry"}, true},
		{"comment before command on the line", "<!-- x --> /medic retry", Command{Verb: VerbRetry, Line: "/medic retry"}, true},
		{"comment in a fence is text", "```\n<!--\n```\n/medic retry", Command{Verb: VerbRetry, Line: "/medic retry"}, true},
		{"three spaces ok", "   /medic close", Command{Verb: VerbClose, Line: "/medic close"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseCommand(tt.body)
			if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseCommand(%q) = %+v, %v; want %+v, %v", tt.body, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestCommandAllowed(t *testing.T) {
	tests := []struct {
		permission string
		want       bool
	}{
		{"admin", true},
		{"maintain", true},
		{"write", true},
		{"Write", true},
		{"triage", false},
		{"read", false},
		{"none", false},
		{"", false},
		{"owner", false},
	}
	for _, tt := range tests {
		if got := CommandAllowed(tt.permission); got != tt.want {
			t.Errorf("CommandAllowed(%q) = %v, want %v", tt.permission, got, tt.want)
		}
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"/medic retry", "```\n/medic close\n```\n/medic explain", "<!--\n/medic close\n-->", "> /medic x\n    /medic y\n/medic"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		cmd, ok := ParseCommand(body)
		if !ok {
			if !reflect.DeepEqual(cmd, Command{}) {
				t.Fatalf("no command but %+v", cmd)
			}
			return
		}
		if !strings.EqualFold(strings.Fields(cmd.Line)[0], CommandPrefix) || (cmd.Verb != "" && cmd.Unknown != "") {
			t.Fatalf("bad command %+v", cmd)
		}
	})
}

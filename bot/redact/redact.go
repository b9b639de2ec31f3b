package redact

import (
	"regexp"
	"strings"
)

// Marker replaces each credential Scrub finds.
const Marker = "[redacted]"

// rule finds one shape of credential. The text of submatch group (0: the
// whole match) is replaced by what replace returns for it, Marker when
// replace is nil.
type rule struct {
	re      *regexp.Regexp
	group   int
	replace func(found string) string
	// needles are literals every match contains (in ASCII lower case
	// when fold): a line without one is not searched, which keeps Scrub
	// fast on long text that holds no credential.
	needles []string
	fold    bool
	// multiline rules match across lines and search the whole text.
	multiline bool
}

// always and random decide a key=value pair's fate: some keys hold a secret
// whatever their value looks like, others (token=, signature=) also name
// things that are not secret, and their values are redacted only when they
// look machine-made.
func random(v string) string {
	if len(v) < 8 || (!strings.ContainsAny(v, "0123456789") && len(v) < 20) {
		return v
	}
	return Marker
}

// userinfo keeps the user of a URL's user:password and drops the password;
// a user alone is kept when it is short (git@, deploy@) and dropped when it
// is long enough to be a token used as a user name.
func userinfo(u string) string {
	if user, _, ok := strings.Cut(u, ":"); ok {
		return user + ":" + Marker
	}
	if len(u) >= 20 {
		return Marker
	}
	return u
}

// secretKeys hold a secret whatever their value; tokenKeys are redacted
// only when the value looks machine-made (see random). Both match as the
// end of a longer name: DB_PASSWORD, client_secret, X-Amz-Signature.
const (
	secretKeys = `password|passwd|pwd|secret|secret[_-]?access[_-]?key|private[_-]?key|api[_-]?key|apikey`
	tokenKeys  = `token|signature|sig|credentials?|session[_-]?id`
	// value is a key=value pair's value, up to a quote, space or
	// separator; it never includes a Marker (no brackets).
	value = `["']?([^\s"'&,;<>\[\]{}()]+)`
)

var awsPrefixes = []string{"AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AIPA", "ANPA", "ANVA", "APKA", "AROA", "ASCA"}

var rules = []rule{
	// PEM private keys (RSA, EC, OpenSSH, PKCS#8, PGP), also when their
	// end was cut off or their lines are escaped in JSON.
	{re: regexp.MustCompile(`-----BEGIN[A-Z0-9 ]{0,40} PRIVATE KEY(?: BLOCK)?-----(?s:.*?)(?:-----END[A-Z0-9 ]{0,40} PRIVATE KEY(?: BLOCK)?-----|$)`), needles: []string{"PRIVATE KEY"}, multiline: true},
	// JWTs: base64url JSON header (eyJ), payload and signature.
	{re: regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`), needles: []string{"eyJ"}},
	// GitHub: personal, OAuth, user-to-server, server-to-server
	// (installation) and refresh tokens, fine-grained PATs, and the older
	// v1.<40 hex> installation tokens.
	{re: regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{20,255}|github_pat_[A-Za-z0-9_]{20,255}|v1\.[0-9a-f]{40})\b`), needles: []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "v1."}},
	// AWS access key ids.
	{re: regexp.MustCompile(`\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)[A-Z0-9]{16}\b`), needles: awsPrefixes},
	// Slack tokens and incoming-webhook paths.
	{re: regexp.MustCompile(`\bxox[abposre]-[A-Za-z0-9-]{10,}|\bxapp-[0-9]-[A-Za-z0-9-]{10,}`), needles: []string{"xox", "xapp-"}},
	{re: regexp.MustCompile(`hooks\.slack\.com/(?:services|workflows|triggers)/([A-Za-z0-9_/+-]+)`), group: 1, needles: []string{"hooks.slack.com/"}},
	// GitLab, Stripe, Google API, npm, Hugging Face, OpenAI and Anthropic
	// keys.
	{re: regexp.MustCompile(`\b(?:glpat-[A-Za-z0-9_-]{20,}|[rs]k_(?:live|test)_[A-Za-z0-9]{16,}|AIza[0-9A-Za-z_-]{35}|npm_[A-Za-z0-9]{36}|hf_[A-Za-z0-9]{30,}|sk-[A-Za-z0-9_-]{20,})`), needles: []string{"glpat-", "k_live_", "k_test_", "AIza", "npm_", "hf_", "sk-"}},
	// Credentials in a URL (https://user:pass@host, https://TOKEN@host)
	// and git's x-access-token:TOKEN@ without a scheme.
	{re: regexp.MustCompile(`://([^/?#\s@]+)@`), group: 1, replace: userinfo, needles: []string{"://"}},
	{re: regexp.MustCompile(`(?i)x-access-token:([^@\s/]+)@`), group: 1, needles: []string{"x-access-token:"}, fold: true},
	// Authorization headers, whatever the scheme, also quoted in JSON.
	{re: regexp.MustCompile(`(?i)\b(?:proxy-)?authorization["']?\s*[:=]\s*["']?(?:(?:bearer|token|basic|digest|negotiate|ntlm|bot|apikey)\s+)?([^\s"',;\[\]]+)`), group: 1, needles: []string{"authorization"}, fold: true},
	// Bearer and token credentials outside a header ("Bearer abc...",
	// "token abc..."); words ("token expired") are kept.
	{re: regexp.MustCompile(`(?i)\b(?:bearer|token)\s+([A-Za-z0-9._~+/-]+=*)`), group: 1, replace: random, needles: []string{"bearer", "token"}, fold: true},
	// key=value and key: value pairs.
	{re: regexp.MustCompile(`(?i)(?:` + secretKeys + `)["']?\s*[:=]\s*` + value), group: 1, needles: []string{"pass", "pwd", "secret", "key"}, fold: true},
	{re: regexp.MustCompile(`(?i)(?:` + tokenKeys + `)["']?\s*[:=]\s*` + value), group: 1, replace: random, needles: []string{"token", "sig", "credential", "session"}, fold: true},
}

// Scrub returns s with every credential replaced by Marker. It knows
// GitHub tokens (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_, v1.), JWTs,
// PEM private keys, AWS access key ids, Slack tokens and webhooks, GitLab,
// Stripe, Google, npm, Hugging Face, OpenAI and Anthropic keys, the value
// of an Authorization header or a Bearer/token credential, the password
// (or token) in a URL's user part, and values of keys named like a
// password, secret, API key, token or signature. Commit ids, image
// digests, quantities and ordinary words are left alone. It runs in time
// linear in len(s).
func Scrub(s string) string {
	lower := "" // s in ASCII lower case, when a rule needs it
	for _, r := range rules {
		hay := s
		if r.fold {
			if lower == "" {
				lower = asciiLower(s)
			}
			hay = lower
		}
		if !r.present(hay) {
			continue
		}
		var out string
		if r.multiline {
			out = r.apply(s)
		} else {
			out = r.applyLines(s, hay)
		}
		if out != s {
			s, lower = out, ""
		}
	}
	return s
}

// present reports whether hay holds one of the rule's needles.
func (r rule) present(hay string) bool {
	for _, n := range r.needles {
		if strings.Contains(hay, n) {
			return true
		}
	}
	return false
}

// applyLines applies the rule to each line of s whose counterpart in hay
// (s itself, or s in ASCII lower case: the same byte offsets) holds a
// needle.
func (r rule) applyLines(s, hay string) string {
	var b strings.Builder
	done := 0 // s[:done] is in b
	for start := 0; start < len(s); {
		end := strings.IndexByte(s[start:], '\n')
		if end < 0 {
			end = len(s)
		} else {
			end += start + 1
		}
		if r.present(hay[start:end]) {
			if line := r.apply(s[start:end]); line != s[start:end] {
				b.WriteString(s[done:start])
				b.WriteString(line)
				done = end
			}
		}
		start = end
	}
	if done == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

// asciiLower lower-cases ASCII letters only, so that byte offsets stay
// those of s.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func (r rule) apply(s string) string {
	ms := r.re.FindAllStringSubmatchIndex(s, -1)
	if ms == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range ms {
		start, end := m[2*r.group], m[2*r.group+1]
		if start < 0 {
			continue
		}
		found := s[start:end]
		out := Marker
		if r.replace != nil {
			out = r.replace(found)
		}
		if out == found {
			continue
		}
		b.WriteString(s[last:start])
		b.WriteString(out)
		last = end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// scrubbed is an error whose message was scrubbed; it unwraps to the
// original so that errors.Is and errors.As still work.
type scrubbed struct {
	err error
	msg string
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// Error returns err with its message scrubbed (see Scrub); errors.Is and
// errors.As see err's chain unchanged. Wrap an error where it enters medic
// from a remote, so every later log line and stored record holds scrubbed
// text. A caller that unwraps it with errors.As and prints the fields of
// what it finds must scrub those itself. nil stays nil.
func Error(err error) error {
	if err == nil {
		return nil
	}
	if s, ok := err.(*scrubbed); ok {
		return s
	}
	msg := err.Error()
	clean := Scrub(msg)
	if clean == msg {
		return err // nothing to hide, and an error's message does not change
	}
	return &scrubbed{err: err, msg: clean}
}

package github

import "strings"

// Verbs medic understands in pull-request comments.
const (
	// VerbExplain asks medic to explain why it opened the pull request.
	VerbExplain = "explain"
	// VerbRetry asks medic to propose again (a new plan and push).
	VerbRetry = "retry"
	// VerbRevert asks medic to open a pull request reverting its change.
	VerbRevert = "revert"
	// VerbClose asks medic to close the pull request without merging.
	VerbClose = "close"
)

// CommandPrefix starts every command line.
const CommandPrefix = "/medic"

var commandVerbs = map[string]bool{VerbExplain: true, VerbRetry: true, VerbRevert: true, VerbClose: true}

// Command is a /medic command found in a comment.
type Command struct {
	// Verb is one of the Verb constants, in lower case, or "" when the
	// command named no verb or one medic does not know.
	Verb string
	// Args are the words after the verb, as written.
	Args []string
	// Unknown is the verb as written (lower case) when medic does not
	// know it, so the bot can answer "unknown command"; "" otherwise.
	Unknown string
	// Line is the command line, trimmed.
	Line string
}

// ParseCommand finds the first command in a pull-request comment body: a
// line that is exactly "/medic <verb> [args...]" with any spacing around
// the words. The verb is case-insensitive. Lines inside ``` or ~~~ fences,
// quoted lines (starting with ">"), indented code lines (four spaces or a
// tab) and HTML comments (invisible on GitHub) are not commands, so quoting someone else's command does not run
// it again. ok is false when the body holds no command. A bare "/medic" is
// a command with no verb (Verb and Unknown both ""), which the bot answers
// with usage.
func ParseCommand(body string) (cmd Command, ok bool) {
	fence, inComment := "", false
	for _, raw := range strings.Split(body, "\n") {
		raw = strings.TrimRight(raw, " \t\r")
		if fence != "" {
			line := strings.TrimLeft(raw, " ")
			if len(raw)-len(line) < 4 && strings.HasPrefix(line, fence) && strings.Trim(line, fence[:1]) == "" {
				fence = ""
			}
			continue
		}
		if inComment {
			end := strings.Index(raw, "-->")
			if end < 0 {
				continue
			}
			raw = raw[end+len("-->"):]
		}
		raw, inComment = stripHTMLComments(raw)
		line := strings.TrimLeft(raw, " ")
		indent := len(raw) - len(line)
		if indent >= 4 || strings.HasPrefix(line, "\t") {
			continue // indented code block
		}
		if f := fenceOpener(line); f != "" {
			fence = f
			continue
		}
		if strings.HasPrefix(line, ">") {
			continue // quoted
		}
		words := strings.Fields(line)
		if len(words) == 0 || !strings.EqualFold(words[0], CommandPrefix) {
			continue
		}
		cmd := Command{Line: strings.Join(words, " ")}
		if len(words) == 1 {
			return cmd, true
		}
		verb := strings.ToLower(words[1])
		if commandVerbs[verb] {
			cmd.Verb = verb
		} else {
			cmd.Unknown = verb
		}
		if len(words) > 2 {
			cmd.Args = words[2:]
		}
		return cmd, true
	}
	return Command{}, false
}

// stripHTMLComments removes the <!-- --> comments of one line; open is
// true when the line leaves a comment open.
func stripHTMLComments(line string) (rest string, open bool) {
	for {
		start := strings.Index(line, "<!--")
		if start < 0 {
			return line, false
		}
		end := strings.Index(line[start+len("<!--"):], "-->")
		if end < 0 {
			return line[:start], true
		}
		line = line[:start] + line[start+len("<!--")+end+len("-->"):]
	}
}

// fenceOpener returns the fence (three or more backticks or tildes) that
// line opens, or "".
func fenceOpener(line string) string {
	for _, c := range []byte{'`', '~'} {
		n := 0
		for n < len(line) && line[n] == c {
			n++
		}
		if n >= 3 {
			return line[:n]
		}
	}
	return ""
}

// CommandAllowed reports whether a user with the given repository
// permission (GitHub's "admin", "maintain", "write", "triage", "read" or
// "none") may run medic commands: only admin, maintain and write may.
func CommandAllowed(permission string) bool {
	switch strings.ToLower(strings.TrimSpace(permission)) {
	case "admin", "maintain", "write":
		return true
	}
	return false
}

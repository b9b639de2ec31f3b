package local

import (
	"fmt"
	"strings"

	"github.com/medic-bot/medic/bot/forge"
)

// renderBody is the pull request description.
var renderBody = simpleBody

// simpleBody describes the request in Markdown: the incident, the
// proposal and its rationale, each file's diff, and the policy decision.
func simpleBody(r forge.Request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Incident %s\n\n%s\n\n", r.Incident.ID, r.Incident.Summary())
	fmt.Fprintf(&b, "## Proposal\n\n`%s` on `%s`", r.Proposal.Intent.Kind, r.Proposal.Intent.Target)
	if r.Proposal.Source != "" {
		fmt.Fprintf(&b, " (from %s)", r.Proposal.Source)
	}
	b.WriteString("\n\n")
	if s := strings.TrimSpace(r.Proposal.Rationale); s != "" {
		b.WriteString(s + "\n\n")
	}
	b.WriteString("## Change\n\n")
	for _, f := range r.Change.Files {
		fmt.Fprintf(&b, "```diff\n%s\n```\n\n", strings.TrimRight(f.Diff, "\n"))
	}
	automerge := "no"
	if r.Decision.Automerge {
		automerge = "yes"
	}
	fmt.Fprintf(&b, "## Policy\n\nallowed; automerge: %s\n", automerge)
	for _, reason := range r.Decision.Reasons {
		fmt.Fprintf(&b, "- %s\n", reason)
	}
	return b.String()
}

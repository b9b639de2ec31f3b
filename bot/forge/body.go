package forge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/medic-bot/medic/bot/redact"
	"github.com/medic-bot/medic/detect"
	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/policy"
)

// Limits of the pull request body. GitHub refuses a body over 65,536
// characters; Body stays under bodyMaxBytes bytes (a byte count is never
// below a character count), leaving room for what other tools append.
const (
	bodyMaxBytes = 60000
	// bodyMinDiffBytes is the least of a diff worth showing once it has to
	// be cut: less than this and only the note is left.
	bodyMinDiffBytes = 400
	// bodyNoteSlack is what a cut adds (its note, the fence) beyond the
	// text it keeps, used to aim the next attempt.
	bodyNoteSlack = 600
	// rationaleMaxRunes caps the crew's rationale.
	rationaleMaxRunes = 4000
	// chartMaxPoints caps the evidence chart.
	chartMaxPoints = 60
	// Caps on lists that telemetry or a policy can make arbitrarily long.
	bodyMaxAnomalies = 30
	bodyMaxFiles     = 30
	bodyMaxObjects   = 100
	bodyMaxReasons   = 20
	bodyMaxLabels    = 20
	// bodyCompactList caps those lists in a compact body.
	bodyCompactList = 5
)

// redactedValue replaces a secret in the body.
const redactedValue = "<redacted>"

// Body renders the pull request description for r in GitHub-flavoured
// Markdown, in this order: the incident (summary and a table of its
// anomalies), an evidence chart (Mermaid xychart-beta), the proposal and
// its rationale, each file's diff, the rendered-manifest diff (collapsed),
// the policy decision, how to roll back (with the /medic commands when
// r.Commands says the forge runs them), and on the last line a hidden
// marker for machines:
//
//	<!-- medic:incident=<id> intent=<kind> -->
//
// Text from telemetry, the repository, the crew and the policy is
// untrusted: it goes through Untrusted (no live link, image, HTML, entity,
// mention or issue reference) or is shown as code, cannot break out of
// its section, and is scrubbed of credentials (redact.Scrub); the
// rationale is capped at 4,000 characters. When the
// intent is set_env and the variable's name looks secret (it contains
// TOKEN, SECRET, PASSWORD, PASSWD, KEY, CREDENTIAL or AUTH), its value,
// and the value it replaces, are shown as <redacted> everywhere, diffs
// included. The body stays under 60,000 bytes (GitHub's limit is 65,536
// characters): the rendered diff is cut first, then the largest source
// diffs, each with a note saying how to see it in full. The result depends
// on r only.
func Body(r Request) string {
	br := newBodyRenderer(r)
	s := br.render()
	renderedLen := len(br.renderedDiff)
	fileLens := make([]int, len(br.fileDiffs))
	for i, d := range br.fileDiffs {
		fileLens[i] = len(d)
	}
	// Each round cuts by what is over, plus a note's cost; a few rounds
	// settle because line boundaries only ever keep less than asked.
	for range 12 {
		over := len(s) - bodyMaxBytes
		if over <= 0 {
			return s
		}
		switch {
		case br.renderedMax != 0 && renderedLen > 0:
			keep := min(renderedLen, br.renderedMax)
			if br.renderedMax < 0 {
				keep = renderedLen
			}
			br.renderedMax = max(keep-over-bodyNoteSlack, 0)
			if br.renderedMax < bodyMinDiffBytes {
				br.renderedMax = 0
			}
		case br.fileMax != 0 && slices.Max(append([]int{0}, fileLens...)) > 0:
			br.fileMax = waterLevel(fileLens, br.fileMax, over+bodyNoteSlack)
			if br.fileMax < bodyMinDiffBytes {
				br.fileMax = 0
			}
		case !br.compact:
			br.compact = true
		default:
			return s // compact bodies are bounded well under GitHub's limit
		}
		s = br.render()
	}
	if len(s) > bodyMaxBytes { // did not settle: the smallest form
		br.renderedMax, br.fileMax, br.compact = 0, 0, true
		s = br.render()
	}
	return s
}

// waterLevel returns the largest cap c (below limit, or any when limit is
// negative) such that cutting every size to c saves at least need bytes
// compared with cutting them to limit. The largest sizes lose the most.
func waterLevel(sizes []int, limit, need int) int {
	capped := func(c int) int {
		t := 0
		for _, s := range sizes {
			if c >= 0 {
				s = min(s, c)
			}
			t += s
		}
		return t
	}
	target := capped(limit) - need
	if target <= 0 {
		return 0
	}
	lo, hi := 0, slices.Max(sizes)
	if limit >= 0 {
		hi = min(hi, limit)
	}
	for lo < hi { // largest c with capped(c) <= target
		mid := (lo + hi + 1) / 2
		if capped(mid) <= target {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// Explain renders the comment medic posts for `/medic explain`: why it
// proposed the change (the incident, the proposal with its rationale and
// the policy decision), without the diffs. It treats untrusted text and
// secrets as Body does.
func Explain(r Request) string {
	br := newBodyRenderer(r)
	var b strings.Builder
	b.WriteString("### Why medic proposed this change\n\n")
	br.writeSummary(&b)
	b.WriteString("#### Proposal\n\n")
	br.writeProposalBody(&b)
	b.WriteString("#### Policy decision\n\n")
	br.writePolicyBody(&b)
	b.WriteString("The evidence chart, the diffs and how to roll back are in the pull request's description.\n")
	return b.String()
}

// bodyRenderer renders one request; the limits let Body render it again
// smaller.
type bodyRenderer struct {
	r            Request
	red          redactor
	renderedDiff string   // redacted
	fileDiffs    []string // redacted, one per shown file
	// renderedMax and fileMax cap the rendered diff and each file's diff,
	// in bytes; -1 means no cap.
	renderedMax int
	fileMax     int
	// compact leaves out the anomaly table, the rationale and the object
	// list: the last resort for bodies the diffs alone cannot shrink.
	compact bool
	quoted  *string // the rationale, made safe once
}

func newBodyRenderer(r Request) *bodyRenderer {
	diffs := []string{r.Change.RenderedDiff}
	for _, f := range r.Change.Files {
		diffs = append(diffs, f.Diff)
	}
	br := &bodyRenderer{r: r, red: newRedactor(r.Proposal.Intent, diffs), renderedMax: -1, fileMax: -1}
	br.renderedDiff = br.red.diff(r.Change.RenderedDiff)
	for i, f := range r.Change.Files {
		if i == bodyMaxFiles {
			break
		}
		br.fileDiffs = append(br.fileDiffs, br.red.diff(f.Diff))
	}
	return br
}

func (br *bodyRenderer) render() string {
	var b strings.Builder
	b.WriteString("### Incident\n\n")
	br.writeSummary(&b)
	br.writeAnomalyTable(&b)
	br.writeEvidence(&b)
	b.WriteString("### Proposed change\n\n")
	br.writeProposalBody(&b)
	br.writeSourceDiffs(&b)
	br.writeRendered(&b)
	b.WriteString("### Policy decision\n\n")
	br.writePolicyBody(&b)
	br.writeRollback(&b)
	b.WriteString(bodyFooter(br.r))
	return b.String()
}

// bodyFooter is the hidden marker on the body's last line. Its values are
// kept to characters that cannot end the comment early.
func bodyFooter(r Request) string {
	return "<!-- medic:incident=" + markerValue(r.Incident.ID) + " intent=" + markerValue(r.Proposal.Intent.Kind) + " -->\n"
}

func markerValue(s string) string {
	return strings.Map(func(c rune) rune {
		if c < utf8.RuneSelf && (c == '-' || c == '_' || c == '.' || unicode.IsLetter(c) || unicode.IsDigit(c)) {
			return c
		}
		return -1
	}, s)
}

// ---- section 1: the incident ----

func (br *bodyRenderer) writeSummary(b *strings.Builder) {
	in := br.r.Incident
	w := in.Workload
	strongest := in.Strongest()
	container := w.Container
	if container == "" {
		container = strongest.Workload.Container
	}
	fmt.Fprintf(b, "Incident %s: workload %s", br.code(in.ID), br.code(w.Key()))
	if container != "" {
		fmt.Fprintf(b, ", container %s", br.code(container))
	}
	if len(in.Anomalies) == 0 {
		b.WriteString(". medic has no anomaly details for this incident.")
		if !in.Opened.IsZero() {
			fmt.Fprintf(b, " It was opened at %s.", rfc3339(in.Opened))
		}
		b.WriteString("\n\n")
		return
	}
	b.WriteString(". ")
	if s := br.text(strongest.Summary, 300); s != "" {
		r, n := utf8.DecodeRuneInString(s)
		b.WriteString(string(unicode.ToUpper(r)) + strings.TrimRight(s[n:], ". "))
		b.WriteString(". ")
	} else {
		fmt.Fprintf(b, "The strongest anomaly is on %s. ", br.code(strongest.Signal))
	}
	onset := strongest.Onset
	if onset.IsZero() {
		onset = in.Opened
	}
	if !onset.IsZero() {
		fmt.Fprintf(b, "It started at **%s**", rfc3339(onset))
	} else {
		b.WriteString("Its onset is unknown")
	}
	fmt.Fprintf(b, "; %s was %s against a baseline of %s", br.code(strongest.Signal), compactNumber(strongest.Observed), compactNumber(strongest.Baseline))
	if o, bl := strongest.Observed, strongest.Baseline; isFinite(o) && isFinite(bl) && bl != 0 {
		fmt.Fprintf(b, " (%s×)", sigFigures(o/bl, 3))
	}
	b.WriteString(". ")
	if n := len(in.Anomalies); n == 1 {
		b.WriteString("medic saw 1 anomaly.\n\n")
	} else {
		fmt.Fprintf(b, "medic saw %d anomalies.\n\n", n)
	}
}

func (br *bodyRenderer) writeAnomalyTable(b *strings.Builder) {
	as := br.r.Incident.Anomalies
	if len(as) == 0 {
		return
	}
	if br.compact {
		b.WriteString("*The table of anomalies was left out to keep this description under GitHub's size limit.*\n\n")
		return
	}
	b.WriteString("| Signal | Kind | Detector | Score | Onset |\n|---|---|---|---:|---|\n")
	for i, a := range as {
		if i == bodyMaxAnomalies {
			fmt.Fprintf(b, "\n…and %d more anomalies.\n", len(as)-i)
			break
		}
		onset := ""
		if !a.Onset.IsZero() {
			onset = rfc3339(a.Onset)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n",
			br.cell(br.code(a.Signal)), br.cell(br.text(string(a.Kind), 40)), br.cell(br.text(a.Detector, 60)),
			scoreText(a.Score), onset)
	}
	b.WriteString("\n")
}

// ---- section 2: evidence ----

// chartSeries picks the anomaly to chart: the strongest when it has a
// finite evidence point, else the first that has one. It returns the
// finite points in time order and how many points were not finite.
func chartSeries(as []detect.Anomaly, strongest detect.Anomaly) (detect.Anomaly, []detect.EvidencePoint, int, bool) {
	clean := func(a detect.Anomaly) ([]detect.EvidencePoint, int) {
		var pts []detect.EvidencePoint
		for _, p := range a.Evidence {
			if isFinite(p.V) {
				pts = append(pts, p)
			}
		}
		slices.SortStableFunc(pts, func(x, y detect.EvidencePoint) int { return x.T.Compare(y.T) })
		return pts, len(a.Evidence) - len(pts)
	}
	if pts, dropped := clean(strongest); len(pts) > 0 {
		return strongest, pts, dropped, true
	}
	for _, a := range as {
		if pts, dropped := clean(a); len(pts) > 0 {
			return a, pts, dropped, true
		}
	}
	return detect.Anomaly{}, nil, 0, false
}

func (br *bodyRenderer) writeEvidence(b *strings.Builder) {
	b.WriteString("### Evidence\n\n")
	in := br.r.Incident
	a, pts, dropped, ok := chartSeries(in.Anomalies, in.Strongest())
	if !ok {
		b.WriteString("No evidence points were recorded for this incident's anomalies, so there is no chart.\n\n")
		return
	}
	idx := downsample(pts, chartMaxPoints, a.Baseline)
	peak := peakIndex(pts, a.Baseline)
	shown := make([]detect.EvidencePoint, len(idx))
	ts := make([]time.Time, len(idx))
	for i, k := range idx {
		shown[i] = pts[k]
		ts[i] = pts[k].T
	}
	w := a.Workload
	if w.IsZero() {
		w = in.Workload
	}
	fmt.Fprintf(b, "%s of %s from %s to %s", br.code(a.Signal), br.code(w.String()), rfc3339(pts[0].T), rfc3339(pts[len(pts)-1].T))
	if len(idx) < len(pts) {
		fmt.Fprintf(b, ", %d of %d points (evenly spaced, keeping the first, the last and the peak)", len(idx), len(pts))
	} else if len(pts) == 1 {
		b.WriteString(", 1 point")
	} else {
		fmt.Fprintf(b, ", %d points", len(pts))
	}
	if dropped > 0 {
		fmt.Fprintf(b, "; %d points that were not finite numbers are left out", dropped)
	}
	fmt.Fprintf(b, ". Peak: %s at %s", compactNumber(pts[peak].V), rfc3339(pts[peak].T))
	if isFinite(a.Baseline) {
		fmt.Fprintf(b, "; baseline %s", compactNumber(a.Baseline))
	}
	b.WriteString(".\n\n")

	labels := timeLabels(ts)
	var m strings.Builder
	m.WriteString("xychart-beta\n")
	fmt.Fprintf(&m, "    title %s\n", mermaidString(a.Signal+" of "+w.String(), "evidence"))
	m.WriteString("    x-axis \"time (UTC)\" [")
	for i, l := range labels {
		if i > 0 {
			m.WriteString(", ")
		}
		m.WriteString(mermaidString(l, "-"))
	}
	m.WriteString("]\n")
	fmt.Fprintf(&m, "    y-axis %s\n", mermaidString(a.Signal, "value"))
	m.WriteString("    line [")
	for i, p := range shown {
		if i > 0 {
			m.WriteString(", ")
		}
		m.WriteString(compactNumber(p.V))
	}
	m.WriteString("]\n")
	writeFenced(b, "mermaid", m.String())
	b.WriteString("\n")
}

// peakIndex is the point farthest from the baseline (the highest point
// when the baseline is not finite); the first on ties.
func peakIndex(pts []detect.EvidencePoint, baseline float64) int {
	best, bestD := 0, math.Inf(-1)
	for i, p := range pts {
		d := p.V
		if isFinite(baseline) {
			d = math.Abs(p.V - baseline)
		}
		if d > bestD {
			best, bestD = i, d
		}
	}
	return best
}

// downsample returns the indexes of at most n points of pts, evenly
// spaced, always keeping the first, the last and the peak (see peakIndex),
// in order.
func downsample(pts []detect.EvidencePoint, n int, baseline float64) []int {
	if len(pts) <= n || n < 3 {
		idx := make([]int, len(pts))
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	idx := make([]int, n)
	for i := range n {
		idx[i] = int(math.Round(float64(i) * float64(len(pts)-1) / float64(n-1)))
	}
	peak := peakIndex(pts, baseline)
	if _, found := slices.BinarySearch(idx, peak); !found {
		// Replace the nearest inner index: order is kept because the peak
		// lies between that index's neighbours.
		best := 1
		for i := 1; i < n-1; i++ {
			if absInt(idx[i]-peak) < absInt(idx[best]-peak) {
				best = i
			}
		}
		idx[best] = peak
	}
	return idx
}

func absInt(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// timeLabels formats times as short, distinct UTC labels: HH:MM, with
// seconds (then milliseconds) when a time has them or two times would
// share a label, and the date when the times span more than one day.
// Equal times get a counter, as Mermaid merges equal labels.
func timeLabels(ts []time.Time) []string {
	if len(ts) == 0 {
		return nil
	}
	layouts := []string{"15:04", "15:04:05", "15:04:05.000"}
	precision := 0
	for _, t := range ts {
		if t.Nanosecond() != 0 {
			precision = 2
		} else if t.Second() != 0 {
			precision = max(precision, 1)
		}
	}
	date := ""
	first, last := ts[0].UTC(), ts[len(ts)-1].UTC()
	if first.YearDay() != last.YearDay() || first.Year() != last.Year() {
		date = "01-02 "
	}
	labels := make([]string, len(ts))
	for {
		for i, t := range ts {
			labels[i] = t.UTC().Format(date + layouts[precision])
		}
		if precision == len(layouts)-1 || !duplicateDistinct(labels, ts) {
			break
		}
		precision++
	}
	seen := map[string]int{}
	for i, l := range labels {
		seen[l]++
		if n := seen[l]; n > 1 {
			labels[i] = fmt.Sprintf("%s (%d)", l, n)
		}
	}
	return labels
}

// duplicateDistinct reports whether two different times share a label.
func duplicateDistinct(labels []string, ts []time.Time) bool {
	first := map[string]time.Time{}
	for i, l := range labels {
		if t, ok := first[l]; ok && !t.Equal(ts[i]) {
			return true
		} else if !ok {
			first[l] = ts[i]
		}
	}
	return false
}

// mermaidString quotes s for Mermaid: one line, no double quote (Mermaid
// strings have no escape, so it becomes the entity #quot;), and nothing
// Mermaid or the renderer would read as markup, a directive or a Markdown
// string. An empty s becomes placeholder (Mermaid rejects "").
func mermaidString(s, placeholder string) string {
	var b strings.Builder
	for _, c := range singleLine(s) {
		switch c {
		case '#':
			b.WriteString("#35;")
		case '"':
			b.WriteString("#quot;")
		case '%':
			b.WriteString("#37;")
		case '`':
			b.WriteString("#96;")
		case '<':
			b.WriteString("#lt;")
		case '>':
			b.WriteString("#gt;")
		default:
			b.WriteRune(c)
		}
	}
	out := strings.TrimSpace(b.String())
	if out == "" {
		out = placeholder
	}
	return `"` + capRunes(out, 120) + `"`
}

// ---- section 3: the proposal ----

func (br *bodyRenderer) writeProposalBody(b *strings.Builder) {
	p := br.r.Proposal
	fmt.Fprintf(b, "**%s** on %s", br.code(p.Intent.Kind), br.code(p.Intent.Target.String()))
	source := p.Source
	if source == "" {
		source = "unknown"
	}
	fmt.Fprintf(b, ", proposed by %s", br.code(source))
	if c := p.Confidence; isFinite(c) && c > 0 {
		fmt.Fprintf(b, " with %s%% confidence", strconv.FormatFloat(math.Round(min(c, 1)*100), 'f', 0, 64))
	} else {
		b.WriteString(" without a stated confidence")
	}
	b.WriteString(".")
	if br.red.active {
		b.WriteString(" The variable's name looks secret, so its value is shown as `<redacted>` here and in the diffs.")
	}
	b.WriteString("\n\n")
	if s := br.text(br.r.Change.Summary, 500); s != "" {
		b.WriteString(s)
		b.WriteString("\n\n")
	}
	if j := br.intentJSON(); j != "" {
		b.WriteString("The intent (`medic patch --repo . --intent FILE` plans it again from a file holding it):\n\n")
		writeFenced(b, "json", j)
		b.WriteString("\n")
	}
	if br.compact {
		b.WriteString("*The rationale was left out to keep this description under GitHub's size limit; `/medic explain` shows it.*\n\n")
		return
	}
	if br.quoted == nil {
		q := br.rationale(p.Rationale)
		br.quoted = &q
	}
	rat := *br.quoted
	if rat == "" {
		b.WriteString("No rationale was given.\n\n")
		return
	}
	if p.Source == "llm" {
		b.WriteString("Rationale (written by a language model; mentions and HTML are disabled):\n\n")
	} else {
		b.WriteString("Rationale:\n\n")
	}
	for l := range strings.SplitSeq(rat, "\n") {
		if l == "" {
			b.WriteString(">\n")
		} else {
			b.WriteString("> " + l + "\n")
		}
	}
	b.WriteString("\n")
}

// intentJSON is the intent's compact JSON, its secret value redacted; empty
// when its params are not JSON.
func (br *bodyRenderer) intentJSON() string {
	in := br.r.Proposal.Intent
	if br.red.active {
		params, err := compactJSON(struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		}{br.red.name, redactedValue})
		if err != nil {
			return ""
		}
		in.Params = json.RawMessage(params)
	}
	j, err := compactJSON(in)
	if err != nil {
		return ""
	}
	s := br.red.text(j)
	if len(s) > 2000 {
		return "" // a valid intent is far shorter; do not show a broken one
	}
	return s
}

// compactJSON is v's compact JSON without HTML escapes.
func compactJSON(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSpace(buf.String()), nil
}

var (
	htmlComment     = regexp.MustCompile(`(?s)<!--.*?-->`)
	htmlOpenComment = regexp.MustCompile(`(?s)<!--.*$`)
	// htmlTag is an open or closing tag; like CommonMark's, it may span
	// lines but not a blank line.
	htmlTag   = regexp.MustCompile(`</?[A-Za-z][A-Za-z0-9-]*(?:\s(?:[^>\n]|\n[ \t]*[^>\n \t])*)?/?>`)
	htmlDecl  = regexp.MustCompile(`(?s)<![A-Za-z\[][^>]*>|<\?.*?\?>`)
	mentionRE = regexp.MustCompile(`@([A-Za-z0-9])`)
)

// rationale makes the crew's untrusted rationale safe to quote: no HTML
// comment or tag (they can hide text), no mention that pings, no footnote,
// code fences balanced, at most rationaleMaxRunes characters. It returns
// Markdown lines for a block quote.
func (br *bodyRenderer) rationale(s string) string {
	// Redact before and after stripping HTML (tags could split the
	// secret), keeping the marker, which looks like a tag, out of its way.
	const sentinel = "\ue000"
	truncated := false
	if len(s) > 16*rationaleMaxRunes {
		// Far more than is shown: cut before the work.
		s, truncated = capRunes(s, 4*rationaleMaxRunes), true
	}
	s = strings.ReplaceAll(cleanControls(s, true), sentinel, "")
	s = strings.ReplaceAll(br.red.text(s), redactedValue, sentinel)
	s = htmlComment.ReplaceAllString(s, "")
	s = htmlOpenComment.ReplaceAllString(s, "")
	for range 16 { // removing a tag can join the halves of another
		t := htmlDecl.ReplaceAllString(htmlTag.ReplaceAllString(s, ""), "")
		if t == s {
			break
		}
		s = t
	}
	s = strings.ReplaceAll(br.red.text(s), sentinel, redactedValue)
	// Cut before escaping, so that a cut never splits an escape or a code
	// span.
	if utf8.RuneCountInString(s) > rationaleMaxRunes {
		s = strings.TrimSuffix(capRunes(s, rationaleMaxRunes), "…")
		truncated = true
	}
	var lines []string
	var f fenceState
	for l := range strings.SplitSeq(strings.TrimSpace(s), "\n") {
		inCode := f.open != ""
		f.line(l)
		if inCode || f.open != "" {
			// A fence line, or code: inert as it is. The fence lines are
			// exactly those CommonMark reads as fences, because every
			// other line is kept from starting a block (a list item
			// could otherwise hold a fence medic does not see). Mentions
			// get their joiner anyway: a copied line should not ping.
			lines = append(lines, mentionRE.ReplaceAllString(l, "@\u200d$1"))
			continue
		}
		l = strings.TrimSpace(l)
		if l == "" && len(lines) > 0 && lines[len(lines)-1] == "" {
			continue // what stripping left of hidden text: one blank line is enough
		}
		lines = append(lines, blockSafe(Untrusted(l)))
	}
	s = strings.Join(lines, "\n")
	f = fenceState{}
	for l := range strings.SplitSeq(s, "\n") {
		f.line(l)
	}
	if f.open != "" {
		s += "\n" + f.open
	}
	if truncated {
		s += "\n…(truncated)"
	}
	return s
}

// fenceState follows CommonMark code fences line by line; open is the
// fence that closes the current code block ("" outside one).
type fenceState struct{ open string }

func (f *fenceState) line(l string) {
	t := strings.TrimLeft(l, " ")
	if len(l)-len(t) > 3 || len(t) < 3 || (t[0] != '`' && t[0] != '~') {
		return
	}
	n := len(t) - len(strings.TrimLeft(t, t[:1]))
	if n < 3 {
		return
	}
	fence, rest := t[:n], t[n:]
	if f.open == "" {
		if fence[0] == '`' && strings.Contains(rest, "`") {
			return // not a fence: a backtick fence's info string has no backtick
		}
		f.open = fence
		return
	}
	if fence[0] == f.open[0] && n >= len(f.open) && strings.TrimSpace(rest) == "" {
		f.open = ""
	}
}

// ---- sections 4 and 5: diffs ----

func (br *bodyRenderer) writeSourceDiffs(b *strings.Builder) {
	files := br.r.Change.Files
	if len(files) == 0 {
		return
	}
	b.WriteString("### Source diff\n\n")
	if br.compact && br.fileMax == 0 {
		fmt.Fprintf(b, "*The diffs of the %d changed files were left out to keep this description under GitHub's size limit. They are in this pull request's Files changed tab and on branch %s.*\n\n", len(files), br.code(br.r.Branch()))
		return
	}
	for i, d := range br.fileDiffs {
		f := files[i]
		b.WriteString(br.code(f.Path))
		if f.Deleted {
			b.WriteString(" (deleted)")
		}
		b.WriteString(":\n\n")
		kept, lines, total := cutLines(d, br.fileMax)
		if d == "" {
			b.WriteString("*No diff was given for this file.*\n")
		}
		if kept != "" {
			writeFenced(b, "diff", kept)
		}
		if lines < total {
			if kept != "" {
				b.WriteString("\n")
			}
			if kept == "" {
				fmt.Fprintf(b, "*This file's diff (%d lines) was left out", total)
			} else {
				fmt.Fprintf(b, "*Showing the first %d of %d lines of this file's diff; the rest was cut", lines, total)
			}
			fmt.Fprintf(b, " to keep this description under GitHub's size limit. The full diff is in this pull request's Files changed tab and on branch %s.*\n", br.code(br.r.Branch()))
		}
		b.WriteString("\n")
	}
	if n := len(files) - len(br.fileDiffs); n > 0 {
		fmt.Fprintf(b, "*…and %d more files; see this pull request's Files changed tab.*\n\n", n)
	}
}

func (br *bodyRenderer) writeRendered(b *strings.Builder) {
	c := br.r.Change
	if br.renderedDiff == "" && len(c.ChangedObjects) == 0 {
		b.WriteString("The change produced no rendered-manifest diff.\n\n")
		return
	}
	n := len(c.ChangedObjects)
	noun := "objects"
	if n == 1 {
		noun = "object"
	}
	fmt.Fprintf(b, "<details><summary>Rendered manifests (%d %s changed)</summary>\n\n", n, noun)
	switch {
	case n == 0:
	case br.compact:
		b.WriteString("*The list of changed objects was left out to keep this description under GitHub's size limit.*\n\n")
	default:
		b.WriteString("Changed objects:\n\n")
		for i, o := range c.ChangedObjects {
			if i == bodyMaxObjects {
				fmt.Fprintf(b, "- …and %d more\n", n-i)
				break
			}
			name := o.Name
			if o.Namespace != "" {
				name = o.Namespace + "/" + o.Name
			}
			fmt.Fprintf(b, "- %s\n", br.code(o.APIVersion+" "+o.Kind+" "+name))
		}
		b.WriteString("\n")
	}
	kept, lines, total := cutLines(br.renderedDiff, br.renderedMax)
	if kept != "" {
		writeFenced(b, "diff", kept)
		b.WriteString("\n")
	}
	if lines < total {
		if kept == "" {
			fmt.Fprintf(b, "*The rendered diff (%d lines) was left out", total)
		} else {
			fmt.Fprintf(b, "*Showing the first %d of %d lines of the rendered diff; the rest was cut", lines, total)
		}
		fmt.Fprintf(b, " to keep this description under GitHub's size limit. To see all of it, run `medic patch --repo . --intent FILE` on the base branch with the intent above in FILE, or render branch %s with kustomize or Helm.*\n\n", br.code(br.r.Branch()))
	}
	b.WriteString("</details>\n\n")
}

// cutLines keeps the whole lines of s that fit in max bytes (all of s when
// max is negative) and reports how many lines it kept of how many.
func cutLines(s string, max int) (kept string, keptLines, totalLines int) {
	if s == "" {
		return "", 0, 0
	}
	totalLines = strings.Count(s, "\n")
	if !strings.HasSuffix(s, "\n") {
		totalLines++
	}
	if max < 0 || len(s) <= max {
		return s, totalLines, totalLines
	}
	cut := strings.LastIndexByte(s[:max], '\n')
	if cut < 0 {
		return "", 0, totalLines
	}
	kept = s[:cut+1]
	return kept, strings.Count(kept, "\n"), totalLines
}

// writeFenced writes s in a fenced code block whose fence is longer than
// any run of backticks in s, so s cannot close it.
func writeFenced(b *strings.Builder, info, s string) {
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", max(3, longest+1))
	b.WriteString(fence + info + "\n")
	b.WriteString(s)
	if !strings.HasSuffix(s, "\n") {
		b.WriteString("\n")
	}
	b.WriteString(fence + "\n")
}

// ---- section 6: the policy decision ----

func (br *bodyRenderer) writePolicyBody(b *strings.Builder) {
	d := br.r.Decision
	fmt.Fprintf(b, "- Allowed: **%s**\n", yesOrNo(d.Allow))
	if d.Automerge {
		b.WriteString("- Auto-merge: **yes**; the policy lets medic merge it once its checks pass\n")
	} else {
		b.WriteString("- Auto-merge: **no**; a person must review and merge it\n")
	}
	maxList := bodyMaxReasons
	if br.compact {
		maxList = bodyCompactList
	}
	if len(d.Labels) > 0 {
		b.WriteString("- Labels: ")
		for i, l := range d.Labels {
			if i == min(maxList, bodyMaxLabels) {
				fmt.Fprintf(b, " and %d more", len(d.Labels)-i)
				break
			}
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(br.code(capRunes(l, 100)))
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	if slices.Contains(d.Labels, policy.LabelPolicyError) {
		b.WriteString("The policy could not be evaluated, so medic failed closed.\n\n")
	}
	if len(d.Reasons) == 0 {
		b.WriteString("The policy gave no reasons.\n\n")
		return
	}
	b.WriteString("Reasons:\n\n")
	for i, s := range d.Reasons {
		if i == maxList {
			fmt.Fprintf(b, "- …and %d more\n", len(d.Reasons)-i)
			break
		}
		fmt.Fprintf(b, "- %s\n", br.text(s, 300))
	}
	b.WriteString("\n")
}

func yesOrNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}

// ---- section 7: rolling back ----

func (br *bodyRenderer) writeRollback(b *strings.Builder) {
	b.WriteString("### How to roll back\n\n")
	b.WriteString("medic does not check the workload after the merge: watch its signals, and roll the change back if it does not recover. ")
	if !br.r.Commands {
		b.WriteString("To roll back, revert this pull request's merge commit: `git revert -m 1 <merge commit>`.\n\n")
		return
	}
	b.WriteString("To roll back, revert this pull request's merge commit (GitHub's Revert button, or `git revert -m 1 <merge commit>`), " +
		"or comment `/medic revert`: medic then opens a pull request that undoes this change, for a person to review and merge.\n\n")
	b.WriteString("Commands, as a comment on this pull request by someone with write access to the repository:\n\n")
	b.WriteString("- `/medic explain`: the incident, the change and the policy decision behind this pull request\n")
	b.WriteString("- `/medic retry`: try the merge again, when the policy lets medic merge this change on its own\n")
	b.WriteString("- `/medic revert`: close this pull request while it is open; once merged, open a pull request reverting it\n")
	b.WriteString("- `/medic close`: close this pull request without merging it\n\n")
}

// ---- untrusted text ----

// text makes s safe as inline Markdown (see Untrusted): one line,
// redacted, at most maxRunes characters, and nothing that starts a block
// (a fence, a heading, a quote, a list) when it begins a line.
func (br *bodyRenderer) text(s string, maxRunes int) string {
	return blockSafe(Untrusted(capRunes(strings.TrimSpace(singleLine(br.red.text(s))), maxRunes)))
}

// Text is text from outside medic (an error from a remote, a log line, a
// policy's reason) made safe for a comment, as Body treats it: one line of
// at most maxRunes characters, credentials scrubbed, inert (Untrusted), and
// starting no block.
func Text(s string, maxRunes int) string {
	return blockSafe(Untrusted(capRunes(strings.TrimSpace(singleLine(redact.Scrub(s))), maxRunes)))
}

// Code is s as an inline code span for a comment, as Body shows names:
// one line, credentials scrubbed, at most 200 characters.
func Code(s string) string { return codeSpan(singleLine(redact.Scrub(s))) }

// blockSafe escapes what would start a block at the beginning of a line:
// a heading, a quote, a list item, a table row, a thematic break or a
// setext underline. (A backtick there is one of Untrusted's code spans:
// raw backticks are escaped.)
func blockSafe(s string) string {
	if s != "" && strings.ContainsRune("#>+-*=|~_:", rune(s[0])) {
		return `\` + s
	}
	if m := orderedItem.FindStringSubmatchIndex(s); m != nil {
		return s[:m[2]] + `\` + s[m[2]:]
	}
	return s
}

var (
	// liveLink is what GitHub turns into a link by itself: a URL of any
	// scheme, www. forms, mailto:/xmpp: and e-mail addresses.
	liveLink = regexp.MustCompile(`(?i)(?:\b[a-z][a-z0-9+.-]{0,31}://|\bwww\.|\b(?:mailto|xmpp):)[^\s<>` + "`" + `]*|[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+`)
	// entity is an & that would start an HTML entity (&#64; is an @).
	entity = regexp.MustCompile(`&([#A-Za-z])`)
	// issueRef is #N (owner/repo#N too) and GH-N.
	issueRef = regexp.MustCompile(`(?i)(#|\bGH-)([0-9])`)
	// markup is escaped wherever it appears: with no [ no link, image,
	// footnote or reference can form, with no < no HTML, autolink or
	// comment, with no backtick no code span (which could hide a fence or
	// swallow an escape), and with no bare backslash none of these escapes
	// can be undone.
	markup = strings.NewReplacer(`\`, `\\`, "`", "\\`", "[", `\[`, "]", `\]`)
)

// Untrusted makes one line of text medic did not write (telemetry, the
// repository, a policy, an LLM, a remote's error) inert inline Markdown
// that reads as what was sent: no live link (URLs of any scheme, www.
// forms and e-mail addresses become code spans), no image, no raw HTML or
// HTML comment, no HTML entity (&#64; would be an @), no @mention and no
// issue cross-reference (#N, owner/repo#N, GH-N: a zero-width joiner
// follows the @ or #), and no backtick, bracket or backslash that could
// open a code span, a link or undo an escape. Every untrusted string in a
// body or comment goes through it (or is shown in a code span or fenced
// block, where nothing is live). It does not scrub credentials or cap the
// length: callers do, before it, so that a cut never splits what it
// writes.
func Untrusted(s string) string {
	var b strings.Builder
	last := 0
	for _, m := range liveLink.FindAllStringIndex(s, -1) {
		b.WriteString(inertProse(s[last:m[0]]))
		b.WriteString("`" + s[m[0]:m[1]] + "`") // the match has no backtick
		last = m[1]
	}
	b.WriteString(inertProse(s[last:]))
	return b.String()
}

// orderedItem is an ordered list marker; its dot or parenthesis is at
// submatch 1.
var orderedItem = regexp.MustCompile(`^[0-9]{1,9}([.)])`)

func inertProse(s string) string {
	s = strings.ReplaceAll(entity.ReplaceAllString(markup.Replace(s), `\&$1`), "<", "&lt;")
	s = mentionRE.ReplaceAllString(s, "@\u200d$1")
	return issueRef.ReplaceAllString(s, "$1\u200d$2")
}

// inertTitle keeps a title (plain text, where GitHub still links #N and
// @login) from referencing an issue or mentioning anyone: a zero-width
// joiner follows the # or @, as in Untrusted. Titles are not Markdown, so
// nothing else is escaped.
func inertTitle(s string) string {
	return issueRef.ReplaceAllString(mentionRE.ReplaceAllString(s, "@\u200d$1"), "$1\u200d$2")
}

// code is s as an inline code span: one line, redacted, at most 200
// characters, with a delimiter longer than any backtick run in s.
func (br *bodyRenderer) code(s string) string { return codeSpan(singleLine(br.red.text(s))) }

// codeSpan is s (one line, redacted) as an inline code span of at most 200
// characters; nothing in a code span is a link, a mention or HTML.
func codeSpan(s string) string {
	s = capRunes(strings.TrimSpace(s), 200)
	if s == "" {
		return "(none)"
	}
	longest, run := 0, 0
	for _, c := range s {
		if c == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	d := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return d + s + d
}

// cell escapes a table cell's pipes (GitHub reads \| as | in code spans
// too).
func (br *bodyRenderer) cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// singleLine turns line breaks and tabs into spaces and drops other control
// characters.
func singleLine(s string) string {
	return cleanControls(strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "\t", " ").Replace(s), false)
}

// cleanControls drops control characters (keeping newlines and tabs when
// multiline, after turning \r\n and \r into \n) and the bidirectional
// formatting characters that can make text read differently from what it
// is.
func cleanControls(s string, multiline bool) string {
	if multiline {
		s = strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(s)
	}
	return strings.Map(func(c rune) rune {
		switch {
		case multiline && (c == '\n' || c == '\t'):
			return c
		case unicode.IsControl(c), c >= 0x202a && c <= 0x202e, c >= 0x2066 && c <= 0x2069, c == utf8.RuneError:
			return -1
		}
		return c
	}, s)
}

// capRunes cuts s to at most n characters, ending it with … when cut.
func capRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for k := range s {
		if i == n-1 {
			return s[:k] + "…"
		}
		i++
	}
	return s
}

// ---- numbers and times ----

func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// compactNumber formats v for people and for Mermaid: integers in full,
// other values to 4 significant digits (whole numbers from 10,000 up),
// never with an exponent.
func compactNumber(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.Abs(v) < 1e-9:
		return "0"
	case math.Abs(v) >= 1e4 || v == math.Trunc(v):
		return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	}
	return sigFigures(v, 4)
}

// sigFigures formats v to n significant digits without an exponent.
func sigFigures(v float64, n int) string {
	r, err := strconv.ParseFloat(strconv.FormatFloat(v, 'g', n, 64), 64)
	if err != nil {
		r = v
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}

func scoreText(s float64) string {
	if !isFinite(s) {
		return compactNumber(s)
	}
	return strconv.FormatFloat(s, 'f', 2, 64)
}

// ---- secrets ----

var secretEnvName = regexp.MustCompile(`(?i)TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDENTIAL|AUTH`)

// secretMinLen is the shortest value redacted wherever it appears; shorter
// ones are redacted on changed diff lines only, so that a short value does
// not blank out every number in the body.
const secretMinLen = 4

// redactor hides a set_env intent's value, and the value it replaces, when
// the variable's name looks secret.
type redactor struct {
	active bool
	name   string
	long   []string // redacted anywhere, longest first
	short  []string // redacted on changed diff lines only
	// longR and allR replace long, and long and short, in one pass.
	longR, allR *strings.Replacer
}

func newRedactor(in patchers.Intent, diffs []string) redactor {
	var p patchers.SetEnvParams
	if in.Kind != patchers.KindSetEnv || json.Unmarshal(in.Params, &p) != nil || !secretEnvName.MatchString(p.Name) {
		return redactor{}
	}
	rd := redactor{active: true, name: p.Name}
	if p.Value == nil {
		return rd
	}
	rd.add(*p.Value)
	// The old value sits where the new one does on a removed line of the
	// same hunk; learn it so that summaries mentioning it are redacted too.
	for _, d := range diffs {
		for _, old := range rd.scan(d, nil) {
			rd.add(unquoteValue(old))
		}
	}
	return rd
}

// add redacts v and the forms YAML and JSON quoting give it.
func (rd *redactor) add(v string) {
	if v == "" {
		return
	}
	j, _ := compactJSON(v) // a string always encodes
	forms := []string{v, j[1 : len(j)-1], strings.ReplaceAll(v, "'", "''")}
	for _, f := range forms {
		if len(f) >= secretMinLen {
			rd.long = append(rd.long, f)
		} else {
			rd.short = append(rd.short, f)
		}
	}
	byLen := func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	}
	for _, l := range []*[]string{&rd.long, &rd.short} {
		slices.SortFunc(*l, byLen)
		*l = slices.Compact(*l)
	}
	pairs := func(forms ...[]string) []string {
		var out []string
		for _, f := range slices.Concat(forms...) {
			out = append(out, f, redactedValue)
		}
		return out
	}
	rd.longR = strings.NewReplacer(pairs(rd.long)...)
	all := slices.Concat(rd.long, rd.short)
	slices.SortStableFunc(all, byLen)
	rd.allR = strings.NewReplacer(pairs(all)...)
}

// unquoteValue strips a YAML comment and quotes from a value as written.
func unquoteValue(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') {
		if end := strings.IndexByte(s[1:], s[0]); end >= 0 {
			return s[1 : end+1]
		}
	}
	if i := strings.Index(s, " #"); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// text redacts the secret from s, and scrubs every other credential
// (redact.Scrub).
func (rd *redactor) text(s string) string {
	if rd.longR != nil {
		s = rd.longR.Replace(s)
	}
	return redact.Scrub(s)
}

// diff redacts the secret from a unified diff: everywhere when long, on
// added and removed lines when short, and on a removed line that sets the
// same key in the same block of changed lines (the value being replaced).
func (rd *redactor) diff(d string) string {
	if rd.allR == nil || d == "" {
		return redact.Scrub(d)
	}
	var b strings.Builder
	rd.scan(d, &b)
	return redact.Scrub(b.String())
}

// scan redacts d into out (when not nil) and returns the old values it
// redacted by key.
func (rd *redactor) scan(d string, out *strings.Builder) []string {
	if rd.allR == nil {
		return nil
	}
	var olds []string
	write := func(s string, nl bool) {
		if out != nil {
			out.WriteString(s)
			if nl {
				out.WriteString("\n")
			}
		}
	}
	// block redacts a run of added and removed lines.
	block := func(ls []string) {
		var keys []diffKey
		for _, l := range ls {
			if body := strings.TrimSuffix(l, "\n"); body[0] == '+' {
				if k, ok := rd.key(body[1:]); ok {
					keys = append(keys, k)
				}
			}
		}
		for _, l := range ls {
			body, nl := strings.CutSuffix(l, "\n")
			if body[0] == '-' {
				if k, old, ok := keyedLine(body[1:], keys); ok {
					if old != redactedValue {
						olds = append(olds, old)
					}
					write("-"+rd.allR.Replace(k.prefix)+redactedValue+k.suffix, nl)
					continue
				}
			}
			write(body[:1]+rd.allR.Replace(body[1:]), nl)
		}
	}
	header := true // before the first hunk: file names, not changes
	var run []string
	for l := range strings.Lines(d) {
		if strings.HasPrefix(l, "@@") {
			header = false
		}
		if !header && (strings.HasPrefix(l, "+") || strings.HasPrefix(l, "-")) {
			run = append(run, l)
			continue
		}
		block(run)
		run = run[:0]
		body, nl := strings.CutSuffix(l, "\n")
		write(rd.longR.Replace(body), nl)
	}
	block(run)
	return olds
}

// diffKey is what surrounds the secret on an added line: the key it is
// set under (and a quote), and what follows it (a quote, a comment).
type diffKey struct{ prefix, suffix string }

// key finds the first form of the secret in s and what surrounds it; ok
// is false when it is not there or nothing but spaces comes before it.
func (rd *redactor) key(s string) (diffKey, bool) {
	at, form := -1, ""
	for _, f := range slices.Concat(rd.long, rd.short) {
		if i := strings.Index(s, f); i >= 0 && (at < 0 || i < at) {
			at, form = i, f
		}
	}
	if at <= 0 || strings.TrimSpace(s[:at]) == "" {
		return diffKey{}, false
	}
	return diffKey{s[:at], s[at+len(form):]}, true
}

// keyedLine finds the key s sets, returning the value it sets it to.
func keyedLine(s string, keys []diffKey) (diffKey, string, bool) {
	for _, k := range keys {
		rest, ok := strings.CutPrefix(s, k.prefix)
		if !ok || rest == "" {
			continue
		}
		if v, ok := strings.CutSuffix(rest, k.suffix); ok && v != "" {
			return k, v, true
		}
		return diffKey{prefix: k.prefix}, rest, true
	}
	return diffKey{}, "", false
}

package incident

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/medic-bot/medic/detect"
)

// maxSlug bounds the readable part of an id so that the whole id (slug,
// "-", 15-character onset, "-", 8 hex digits) stays within 63 characters.
const maxSlug = 38

// NewID is the id of the nth incident (counting from 0) of workload w in
// repo, which anomaly first opens: "<namespace>-<name>-<onset>-<hash>",
// lowercase letters, digits and dashes, at most 63 characters, safe in a
// branch name. The onset is UTC to the second; the hash covers repo,
// w.Key(), n and the anomaly's onset, time, signal and detector, so the
// same input always gives the same id (replay is reproducible), and
// neither a re-raised problem nor the same anomaly delivered again after
// its incident closed gets an id already used.
func NewID(repo string, w detect.Workload, first detect.Anomaly, n int) string {
	onset := openedAt(first)
	h := sha256.New()
	for _, s := range []string{
		repo, w.Key(), strconv.Itoa(n), onset.UTC().Format(time.RFC3339Nano), first.At.UTC().Format(time.RFC3339Nano),
		first.Signal, first.Detector,
	} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	slug := slugify(w.Namespace+"-"+w.Name, maxSlug)
	if slug == "" {
		slug = "incident"
	}
	return slug + "-" + onset.UTC().Format("20060102t150405") + "-" + hex.EncodeToString(h.Sum(nil))[:8]
}

// openedAt is when an incident opened by a starts: the anomaly's onset, or
// its time when the onset is missing or later.
func openedAt(a detect.Anomaly) time.Time {
	if a.Onset.IsZero() || a.Onset.After(a.At) {
		return a.At
	}
	return a.Onset
}

// slugify keeps lowercase letters and digits of s, turns every other run of
// characters into one dash, trims dashes and cuts to max bytes.
func slugify(s string, max int) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			dash = true
			continue
		}
		sep := dash && b.Len() > 0
		if n := b.Len() + 1; n > max || (sep && n+1 > max) {
			break
		}
		if sep {
			b.WriteByte('-')
		}
		dash = false
		b.WriteRune(r)
	}
	return b.String()
}

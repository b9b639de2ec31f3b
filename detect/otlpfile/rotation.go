package otlpfile

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// backupTimeLayout is the timestamp the file exporter's rotation puts in the
// name of a rotated file (lumberjack's layout, kept by timberjack).
const backupTimeLayout = "2006-01-02T15-04-05.000"

// RotatedFiles returns the files of the recording at path, oldest first:
// the backups that the exporter's rotation (on by default, every 100 MB)
// renamed aside, then path itself if it exists. A backup of path
// DIR/PREFIX.EXT is DIR/PREFIX-TIMESTAMP-REASON.EXT (timberjack, e.g.
// rec-2026-12-07T21-11-43.283-size.jsonl) or DIR/PREFIX-TIMESTAMP.EXT (the
// lumberjack names of older exporters), TIMESTAMP being the rotation time;
// files are ordered by it. Backups compressed by hand (.gz added) are not
// matched: pass their names to OpenFiles.
func RotatedFiles(path string) ([]string, error) {
	dir, base := filepath.Split(path)
	ext := filepath.Ext(base)
	prefix := strings.TrimSuffix(base, ext) + "-"
	entries, err := os.ReadDir(filepath.Clean(dir + "."))
	if err != nil {
		return nil, fmt.Errorf("list rotated recording files: %w", err)
	}
	type backup struct {
		name string
		at   time.Time
	}
	var backups []backup
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || name == base || !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, ext) {
			continue
		}
		mid := name[len(prefix) : len(name)-len(ext)]
		if len(mid) < len(backupTimeLayout) {
			continue
		}
		at, err := time.Parse(backupTimeLayout, mid[:len(backupTimeLayout)])
		if err != nil {
			continue
		}
		if reason := mid[len(backupTimeLayout):]; reason != "" && !isReason(reason) {
			continue
		}
		backups = append(backups, backup{dir + name, at})
	}
	slices.SortFunc(backups, func(a, b backup) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	var files []string
	for _, b := range backups {
		files = append(files, b.name)
	}
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
		files = append(files, path)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("list rotated recording files: no %s and no rotated file of it", path)
	}
	return files, nil
}

// isReason reports whether s is "-" and a lowercase word: timberjack's
// rotation reason ("-size", "-time").
func isReason(s string) bool {
	if len(s) < 2 || s[0] != '-' {
		return false
	}
	for _, c := range s[1:] {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

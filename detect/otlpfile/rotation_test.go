package otlpfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A recording rotated by the exporter (names as a real Collector with
// rotation.max_megabytes: 1 wrote them) reads as one stream, oldest file
// first, each record naming its file.
func TestRotatedRecording(t *testing.T) {
	raw, err := os.ReadFile("testdata/collector.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(raw, []byte("\n"))
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Written out of order, with decoys that are not backups of rec.jsonl.
	newer := write("rec-2026-12-07T21-11-44.847-size.jsonl", bytes.Join(lines[4:8], nil))
	legacy := write("rec-2026-12-07T21-11-40.000.jsonl", bytes.Join(lines[:1], nil))
	older := write("rec-2026-12-07T21-11-43.283-size.jsonl", bytes.Join(lines[1:4], nil))
	current := write("rec.jsonl", bytes.Join(lines[8:], nil))
	write("rec-other.jsonl", []byte("x"))
	write("rec-2026-12-07T21-11-45.000-size.json", []byte("x"))
	write("record-2026-12-07T21-11-45.000-size.jsonl", []byte("x"))
	write("rec-2026-12-07T21-11-45.000-Size9.jsonl", []byte("x"))

	files, err := RotatedFiles(current)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{legacy, older, newer, current}; !slices.Equal(files, want) {
		t.Fatalf("files %q\nwant %q", files, want)
	}
	r, err := OpenFiles(files, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	recs, err := readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 12 || r.Stats().Files != 4 || r.Stats().Bytes != int64(len(raw)) {
		t.Fatalf("%d records, %+v", len(recs), r.Stats())
	}
	want := readSample(t, "collector.jsonl")
	for i, rec := range recs {
		if !bytes.Equal(rec.Body, want[i].Body) || rec.Signal != want[i].Signal {
			t.Errorf("record %d differs", i)
		}
	}
	// Positions restart in each file.
	if recs[1].File != older || recs[1].Index != 1 || recs[1].Offset != 0 || recs[2].Index != 2 || recs[2].Offset != int64(len(lines[1])) {
		t.Fatalf("record 2: %s #%d at %d; record 3: #%d at %d", recs[1].File, recs[1].Index, recs[1].Offset, recs[2].Index, recs[2].Offset)
	}

	// A broken file in the middle: the error names it and the line.
	write("rec-2026-12-07T21-11-44.847-size.jsonl", append(bytes.Join(lines[4:6], nil), "{oops\n"...))
	r2, err := OpenFiles(files, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	_, err = readAll(t, r2)
	var re *RecordError
	if !errors.As(err, &re) || re.Name != newer || re.Index != 3 || !strings.Contains(err.Error(), "rec-2026-12-07T21-11-44.847-size.jsonl: line 3 at byte") {
		t.Fatalf("err = %v", err)
	}

	if _, err := RotatedFiles(filepath.Join(dir, "none.jsonl")); err == nil || !strings.Contains(err.Error(), "no rotated file of it") {
		t.Fatalf("missing recording: %v", err)
	}
	if _, err := OpenFiles([]string{current, filepath.Join(dir, "gone.jsonl")}, DefaultConfig()); err == nil {
		t.Fatal("a missing file opened")
	}
	if _, err := OpenFiles(nil, DefaultConfig()); err == nil {
		t.Fatal("no files opened")
	}
}

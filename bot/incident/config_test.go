package incident

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// The yaml keys are the ones the errors and docs name, durations read as
// Go durations, and unknown keys are refused by a strict decoder.
func TestConfigYAML(t *testing.T) {
	const doc = `
window: 15m
settle: 90s
cooldown: 1h
max_open_per_repo: 7
flap: {max_incidents: 4, window: 2h}
max_anomalies: 50
max_tracked: 100
`
	got := DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader([]byte(doc)))
	dec.KnownFields(true)
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := Config{
		Window: 15 * time.Minute, Settle: 90 * time.Second, Cooldown: time.Hour, MaxOpenPerRepo: 7,
		Flap: FlapConfig{MaxIncidents: 4, Window: 2 * time.Hour}, MaxAnomalies: 50, MaxTracked: 100,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Fatal(err)
	}
	dec = yaml.NewDecoder(bytes.NewReader([]byte("windw: 5m\n")))
	dec.KnownFields(true)
	c := DefaultConfig()
	if err := dec.Decode(&c); err == nil {
		t.Fatal("unknown key accepted")
	}
}

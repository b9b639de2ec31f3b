package crew

import (
	"context"
	"testing"

	"github.com/medic-bot/medic/detect"
)

// BenchmarkSuggest is the playbook's own cost per incident, render
// excluded: the repo view's answers are fixed (make bench reports its
// p99 from the per-op figures).
func BenchmarkSuggest(b *testing.B) {
	pb, err := NewPlaybook(DefaultPlaybookConfig())
	if err != nil {
		b.Fatal(err)
	}
	view := &fakeView{facts: twoContainers(), commits: []Commit{
		commit("e5", -10, "web 2.0.0", imageChange("web", "example.com/web:1.9.0", "example.com/web:2.0.0")), created}}
	for name, anoms := range map[string][]detect.Anomaly{
		"memory_limit": {oom("web", 20), memSat("web", 21)},
		"release":      {latency(0), errorsUp(1), p99Up(1)},
		"no_action":    {evicted(0), latency(1)},
	} {
		b.Run(name, func(b *testing.B) {
			inc := incidentOf(anoms...)
			b.ReportAllocs()
			for b.Loop() {
				view.untils = view.untils[:0]
				_, _ = pb.Suggest(context.Background(), inc, view)
			}
		})
	}
}

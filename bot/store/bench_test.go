package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medic-bot/medic/bot/forge"
	"github.com/medic-bot/medic/bot/incident"
	"github.com/medic-bot/medic/bot/store"
	"github.com/medic-bot/medic/detect"
)

// benchBackends runs fn per backend, serially and from parallel
// goroutines (b.RunParallel, GOMAXPROCS of them).
func benchBackends(b *testing.B, fn func(b *testing.B, s store.Store, next func() int64)) {
	for _, be := range backends {
		for _, parallel := range []bool{false, true} {
			name := be.name
			if parallel {
				name += "-parallel"
			}
			b.Run(name, func(b *testing.B) {
				s, err := store.Open(context.Background(), be.dsn(b))
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				var n atomic.Int64
				next := func() int64 { return n.Add(1) }
				b.ReportAllocs()
				b.ResetTimer()
				if !parallel {
					for b.Loop() {
						fn(b, s, next)
					}
					return
				}
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						fn(b, s, next)
					}
				})
			})
		}
	}
}

// BenchmarkCreatePR creates pull requests for distinct incidents in one
// repository: each is a transaction that takes the next number.
func BenchmarkCreatePR(b *testing.B) {
	repo := forge.Repo{Owner: "acme", Name: "infra"}
	now := time.Now()
	benchBackends(b, func(b *testing.B, s store.Store, next func() int64) {
		inc := fmt.Sprintf("inc-%d", next())
		_, err := s.CreatePR(context.Background(), forge.PullRequest{
			Repo: repo, Title: "medic: raise checkout's memory limit", Branch: forge.BranchName(inc, "set_resources"),
			Base: "main", Head: "0123456789abcdef0123456789abcdef01234567", IncidentID: inc,
			Intent: "set_resources", Labels: []string{"medic"}, Created: now, Updated: now,
		})
		if err != nil {
			b.Error(err)
		}
	})
}

// BenchmarkFirstDelivery records distinct delivery ids.
func BenchmarkFirstDelivery(b *testing.B) {
	now := time.Now()
	benchBackends(b, func(b *testing.B, s store.Store, next func() int64) {
		first, err := s.FirstDelivery(context.Background(), fmt.Sprintf("72d3162e-cc78-11e3-81ab-%012d", next()), now)
		if err != nil || !first {
			b.Error(first, err)
		}
	})
}

// BenchmarkIncidentLifecycle is one incident's store traffic in the loop:
// its first save, a save as an anomaly joins, two transitions, a step, a
// proposal and the per-workload cap count.
func BenchmarkIncidentLifecycle(b *testing.B) {
	now := time.Date(2026, 3, 14, 15, 0, 0, 0, time.UTC)
	w := detect.Workload{Namespace: "shop", Kind: "Deployment", Name: "checkout", Container: "app"}
	a := detect.Anomaly{Workload: w, Signal: "container.memory.working_set", Kind: detect.KindSaturation, Detector: "saturation",
		Onset: now, At: now, Score: 0.9, Observed: 5e8, Baseline: 0.98, Summary: "memory working set at 98% of its limit"}
	for i := range 60 {
		a.Evidence = append(a.Evidence, detect.EvidencePoint{T: now.Add(time.Duration(i) * time.Second), V: float64(i)})
	}
	proposal := json.RawMessage(`{"intent":{"kind":"set_resources","target":{"namespace":"shop","kind":"Deployment","name":"checkout","container":"app"},"params":{"limits":{"memory":"768Mi"}}},"source":"playbook/memory-at-limit","confidence":0.8}`)
	benchBackends(b, func(b *testing.B, s store.Store, next func() int64) {
		ctx := context.Background()
		in := incident.Incident{ID: fmt.Sprintf("inc-%d", next()), Workload: w, Opened: now, Anomalies: []detect.Anomaly{a}}
		rec := store.IncidentRecord{Incident: in, Repo: "acme/infra", State: "detected"}
		err := s.SaveIncident(ctx, rec)
		if err == nil {
			rec.Incident.Anomalies = append(rec.Incident.Anomalies, a)
			err = s.SaveIncident(ctx, rec)
		}
		if err == nil {
			err = s.Transition(ctx, store.Transition{IncidentID: in.ID, From: "detected", To: "proposing", Event: "anomaly", At: now})
		}
		if err == nil {
			err = s.SaveProposal(ctx, store.ProposalRecord{IncidentID: in.ID, Seq: 1, Proposal: proposal, At: now})
		}
		if err == nil {
			_, _, err = s.RecordStep(ctx, store.StepRecord{IncidentID: in.ID, Name: "open_pr:1", Result: json.RawMessage(`{"number":7}`), At: now})
		}
		if err == nil {
			err = s.Transition(ctx, store.Transition{IncidentID: in.ID, From: "proposing", To: "proposed", Event: "pr_opened", At: now})
		}
		if err == nil {
			_, err = s.CountTransitions(ctx, store.TransitionQuery{Repo: "acme/infra", Workload: w.Key(), To: "proposed", Since: now.Add(-24 * time.Hour)})
		}
		if err != nil {
			b.Error(err)
		}
	})
}

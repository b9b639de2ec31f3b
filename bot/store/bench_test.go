package store_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medic-bot/medic/bot/forge"
	"github.com/medic-bot/medic/bot/store"
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

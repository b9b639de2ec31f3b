package forgetest

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/medic-bot/medic/bot/forge"
)

// MemoryRecords is a forge.Records held in memory: numbers are assigned
// per repository from 1, an incident has at most one open pull request per
// repository, and records are copied on the way in and out so callers
// never share slices with it. The zero value is ready to use and it is
// safe for concurrent use.
type MemoryRecords struct {
	mu   sync.Mutex
	prs  map[forge.Repo][]forge.PullRequest // in creation order
	next map[forge.Repo]int                 // the last number handed out
}

var _ forge.Records = (*MemoryRecords)(nil)

// NewMemoryRecords returns empty records.
func NewMemoryRecords() *MemoryRecords { return &MemoryRecords{} }

func clonePR(pr forge.PullRequest) forge.PullRequest {
	pr.Labels = slices.Clone(pr.Labels)
	pr.Reviewers = slices.Clone(pr.Reviewers)
	pr.Reused = false
	return pr
}

// openFor returns the index of incidentID's open pull request in repo,
// skipping the one numbered except; -1 when there is none.
func (m *MemoryRecords) openFor(repo forge.Repo, incidentID string, except int) int {
	for i, p := range m.prs[repo] {
		if p.IncidentID == incidentID && p.State == forge.StateOpen && p.Number != except {
			return i
		}
	}
	return -1
}

func (m *MemoryRecords) find(repo forge.Repo, number int) int {
	for i, p := range m.prs[repo] {
		if p.Number == number {
			return i
		}
	}
	return -1
}

// CreatePR implements forge.Records.
func (m *MemoryRecords) CreatePR(ctx context.Context, pr forge.PullRequest) (forge.PullRequest, error) {
	if err := ctx.Err(); err != nil {
		return forge.PullRequest{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.prs == nil {
		m.prs = map[forge.Repo][]forge.PullRequest{}
		m.next = map[forge.Repo]int{}
	}
	if pr.Number < 0 {
		return forge.PullRequest{}, fmt.Errorf("create pull request record: number %d is negative", pr.Number)
	}
	if pr.State == forge.StateOpen && m.openFor(pr.Repo, pr.IncidentID, 0) >= 0 {
		return forge.PullRequest{}, fmt.Errorf("create pull request record: %w: incident %s already has an open pull request in %s", forge.ErrConflict, pr.IncidentID, pr.Repo)
	}
	if pr.Number == 0 {
		pr.Number = m.next[pr.Repo] + 1
	} else if m.find(pr.Repo, pr.Number) >= 0 {
		return forge.PullRequest{}, fmt.Errorf("create pull request record: %w: %s#%d exists", forge.ErrConflict, pr.Repo, pr.Number)
	}
	m.next[pr.Repo] = max(m.next[pr.Repo], pr.Number)
	pr = clonePR(pr)
	m.prs[pr.Repo] = append(m.prs[pr.Repo], pr)
	return clonePR(pr), nil
}

// UpdatePR implements forge.Records. It fails with forge.ErrConflict when
// the update would give the incident a second open pull request.
func (m *MemoryRecords) UpdatePR(ctx context.Context, pr forge.PullRequest) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	i := m.find(pr.Repo, pr.Number)
	if i < 0 {
		return fmt.Errorf("update pull request record: %w: %s#%d", forge.ErrNotFound, pr.Repo, pr.Number)
	}
	if pr.State == forge.StateOpen && m.openFor(pr.Repo, pr.IncidentID, pr.Number) >= 0 {
		return fmt.Errorf("update pull request record: %w: incident %s already has an open pull request in %s", forge.ErrConflict, pr.IncidentID, pr.Repo)
	}
	m.prs[pr.Repo][i] = clonePR(pr)
	return nil
}

// PR implements forge.Records.
func (m *MemoryRecords) PR(ctx context.Context, repo forge.Repo, number int) (forge.PullRequest, error) {
	if err := ctx.Err(); err != nil {
		return forge.PullRequest{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	i := m.find(repo, number)
	if i < 0 {
		return forge.PullRequest{}, fmt.Errorf("pull request %s#%d: %w", repo, number, forge.ErrNotFound)
	}
	return clonePR(m.prs[repo][i]), nil
}

// OpenPRForIncident implements forge.Records.
func (m *MemoryRecords) OpenPRForIncident(ctx context.Context, repo forge.Repo, incidentID string) (forge.PullRequest, error) {
	if err := ctx.Err(); err != nil {
		return forge.PullRequest{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	i := m.openFor(repo, incidentID, 0)
	if i < 0 {
		return forge.PullRequest{}, fmt.Errorf("open pull request of incident %s in %s: %w", incidentID, repo, forge.ErrNotFound)
	}
	return clonePR(m.prs[repo][i]), nil
}

// ListPRs implements forge.Records.
func (m *MemoryRecords) ListPRs(ctx context.Context, repo forge.Repo, state forge.State) ([]forge.PullRequest, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []forge.PullRequest
	for _, p := range m.prs[repo] {
		if state == "" || p.State == state {
			out = append(out, clonePR(p))
		}
	}
	return out, nil
}

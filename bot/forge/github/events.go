package github

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	gh "github.com/google/go-github/v66/github"

	"github.com/medic-bot/medic/bot/forge"
	"github.com/medic-bot/medic/bot/redact"
)

// Events acts on GitHub's webhooks for the forge: it tracks installations,
// keeps pull-request records in step with merges and closes, merges pull
// requests that were waiting on checks, validates .medic.yaml on pushes to
// the default branch, and runs /medic commands from people with write
// access. It implements EventHandler.
type Events struct {
	forge   *Forge
	records forge.Records
	hooks   EventHooks
	logger  *slog.Logger
}

// EventHooks let the rest of medic hear about what happened on GitHub.
// Every hook is optional.
type EventHooks struct {
	// Merged is called when one of medic's pull requests merged (to
	// start verification).
	Merged func(ctx context.Context, pr forge.PullRequest)
	// ConfigChanged is called after a push to a default branch that
	// touched .medic.yaml or .medic/ (to reload repository policies).
	ConfigChanged func(ctx context.Context, repo forge.Repo)
	// Revert opens a pull request reverting a merged one; without it the
	// forge's own Revert does (revert_commit of medic's commit, planned
	// on the base branch's head, for a human to review).
	Revert func(ctx context.Context, pr forge.PullRequest) (forge.PullRequest, error)
}

// NewEvents returns the event handler for f.
func NewEvents(f *Forge, hooks EventHooks) *Events {
	return &Events{forge: f, records: f.records, hooks: hooks, logger: f.logger.With("component", "forge.github.events")}
}

var _ EventHandler = (*Events)(nil)

// HandleEvent acts on one event. Its error is scrubbed of credentials
// (the webhook outbox stores and logs it).
func (e *Events) HandleEvent(ctx context.Context, ev Event) error {
	return redact.Error(e.handle(ctx, ev))
}

func (e *Events) handle(ctx context.Context, ev Event) error {
	switch p := ev.Payload.(type) {
	case *gh.InstallationEvent:
		e.installation(ev.Action, p.GetInstallation().GetID(), p.Repositories, nil)
	case *gh.InstallationRepositoriesEvent:
		e.installation(ev.Action, p.GetInstallation().GetID(), p.RepositoriesAdded, p.RepositoriesRemoved)
	case *gh.PullRequestEvent:
		return e.pullRequest(ctx, ev, p)
	case *gh.CheckSuiteEvent:
		if ev.Action == "completed" && p.GetCheckSuite().GetConclusion() == "success" {
			return e.checksPassed(ctx, ev.Repo, p.GetCheckSuite().GetHeadSHA(), p.GetCheckSuite().PullRequests)
		}
	case *gh.CheckRunEvent:
		if ev.Action == "requested_action" && p.GetCheckRun().GetName() == CheckName {
			return e.checkAction(ctx, ev, p)
		}
		if ev.Action == "completed" && p.GetCheckRun().GetConclusion() == "success" {
			return e.checksPassed(ctx, ev.Repo, p.GetCheckRun().GetHeadSHA(), p.GetCheckRun().PullRequests)
		}
	case *gh.PushEvent:
		return e.push(ctx, ev, p)
	case *gh.IssueCommentEvent:
		if ev.Action == "created" && p.GetIssue().IsPullRequest() {
			return e.comment(ctx, ev, p)
		}
	}
	return nil
}

func (e *Events) installation(action string, id int64, added, removed []*gh.Repository) {
	switch action {
	case "deleted", "suspend":
		e.forge.app.ForgetInstallation(id)
		return
	}
	for _, r := range added {
		if repo, ok := splitFullName(r.GetFullName()); ok {
			e.forge.app.SetInstallation(repo, id)
		}
	}
	for _, r := range removed {
		if repo, ok := splitFullName(r.GetFullName()); ok {
			e.forge.app.mu.Lock()
			delete(e.forge.app.installs, repo)
			e.forge.app.mu.Unlock()
		}
	}
}

func splitFullName(s string) (forge.Repo, bool) {
	owner, name, ok := strings.Cut(s, "/")
	r := forge.Repo{Owner: owner, Name: name}
	return r, ok && r.Validate() == nil
}

// pullRequest records merges and closes of medic's pull requests.
func (e *Events) pullRequest(ctx context.Context, ev Event, p *gh.PullRequestEvent) error {
	if ev.Action != "closed" {
		return nil
	}
	if _, _, ok := forge.ParseBranch(p.GetPullRequest().GetHead().GetRef()); !ok {
		return nil
	}
	pr := e.forge.fromGitHub(ev.Repo, p.GetPullRequest())
	if e.records != nil {
		if rec, err := e.records.PR(ctx, ev.Repo, pr.Number); err == nil {
			pr.Automerge = rec.Automerge
		}
		if err := e.forge.remember(ctx, pr); err != nil {
			return fmt.Errorf("record pull request #%d: %w", pr.Number, err)
		}
	}
	if pr.State == forge.StateMerged && e.hooks.Merged != nil {
		e.hooks.Merged(ctx, pr)
	}
	return nil
}

// checksPassed merges medic's pull requests on sha that wait for checks.
func (e *Events) checksPassed(ctx context.Context, repo forge.Repo, sha string, prs []*gh.PullRequest) error {
	var errs []error
	for _, p := range prs {
		if p.GetHead().GetSHA() != "" && p.GetHead().GetSHA() != sha {
			continue
		}
		pr, err := e.forge.Get(ctx, repo, p.GetNumber())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if pr.State != forge.StateOpen || pr.Merge != forge.MergeWaiting || !pr.Automerge || pr.IncidentID == "" {
			continue
		}
		if _, err := e.forge.Merge(ctx, pr); err != nil && !errors.Is(err, forge.ErrNotReady) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// push validates .medic.yaml after a push to the default branch touched
// medic's configuration, reporting the result as a check run.
func (e *Events) push(ctx context.Context, ev Event, p *gh.PushEvent) error {
	branch, ok := strings.CutPrefix(p.GetRef(), "refs/heads/")
	if !ok || branch != p.GetRepo().GetDefaultBranch() || p.GetDeleted() {
		return nil
	}
	touched := false
	for _, c := range p.Commits {
		for _, files := range [][]string{c.Added, c.Modified, c.Removed} {
			for _, f := range files {
				if f == ConfigFile || strings.HasPrefix(f, ".medic/") {
					touched = true
				}
			}
		}
	}
	if !touched {
		return nil
	}
	err := e.forge.CheckRepoConfig(ctx, ev.Repo, p.GetAfter())
	if e.hooks.ConfigChanged != nil {
		e.hooks.ConfigChanged(ctx, ev.Repo)
	}
	if errors.Is(err, ErrInvalidConfig) {
		return nil // reported on the commit; not a failure of medic's
	}
	return err
}

// checkAction runs the command behind a button of the medic/policy check
// run, as the person who pressed it, answering on the pull request.
func (e *Events) checkAction(ctx context.Context, ev Event, p *gh.CheckRunEvent) error {
	verb := p.GetRequestedAction().Identifier
	if !commandVerbs[verb] || len(p.GetCheckRun().PullRequests) == 0 {
		return nil
	}
	number := p.GetCheckRun().PullRequests[0].GetNumber()
	return e.command(ctx, ev.Repo, number, ev.Sender, 0, Command{Verb: verb, Line: "/medic " + verb})
}

// comment runs a /medic command from a pull-request comment.
func (e *Events) comment(ctx context.Context, ev Event, p *gh.IssueCommentEvent) error {
	cmd, ok := ParseCommand(p.GetComment().GetBody())
	if !ok {
		return nil
	}
	if p.GetComment().GetUser().GetType() == "Bot" {
		return nil // never answer bots, ourselves included
	}
	return e.command(ctx, ev.Repo, p.GetIssue().GetNumber(), p.GetComment().GetUser().GetLogin(), p.GetComment().GetID(), cmd)
}

// command runs cmd for user on pull request number; commentID, when not
// 0, is the comment that asked, which gets reactions.
func (e *Events) command(ctx context.Context, repo forge.Repo, number int, user string, commentID int64, cmd Command) error {
	log := e.logger.With(keyRepo, repo.String(), keyPR, number, "command", cmd.Verb)
	c, err := e.forge.app.Client(ctx, repo)
	if err != nil {
		return err
	}
	pr, err := e.forge.Get(ctx, repo, number)
	if err != nil {
		return err
	}
	if pr.IncidentID == "" {
		return nil // not one of medic's pull requests
	}
	perm, _, err := c.Repositories.GetPermissionLevel(ctx, repo.Owner, repo.Name, user)
	if err != nil {
		return classify("read "+user+"'s permission", err)
	}
	if !CommandAllowed(perm.GetPermission()) {
		log.Info("command refused", "permission", perm.GetPermission())
		return e.reply(ctx, c, repo, number, commentID, "confused",
			fmt.Sprintf("@%s only people with write access to %s can run medic's commands.", user, repo))
	}
	if err := e.react(ctx, c, repo, commentID, "eyes"); err != nil {
		return err
	}
	text, err := e.run(ctx, c, cmd, pr, user)
	if err != nil {
		log.Warn("command failed", "error", err)
		return errors.Join(err, e.reply(ctx, c, repo, number, commentID, "confused", fmt.Sprintf("%s failed: %s", forge.Code(cmd.Line), forge.Text(err.Error(), 1000))))
	}
	log.Info("command done", "user", user)
	return e.reply(ctx, c, repo, number, commentID, "+1", text)
}

const usage = "medic's commands: `/medic explain` (why this change), `/medic retry` (try the merge again), " +
	"`/medic revert` (close this pull request, or revert it once merged), `/medic close` (close it)."

func (e *Events) run(ctx context.Context, c *gh.Client, cmd Command, pr forge.PullRequest, user string) (string, error) {
	switch cmd.Verb {
	case VerbExplain:
		return e.explain(ctx, c, pr)
	case VerbClose:
		if pr.State != forge.StateOpen {
			return fmt.Sprintf("This pull request is already %s.", pr.State), nil
		}
		if _, err := e.forge.Close(ctx, pr, ""); err != nil {
			return "", err
		}
		e.deleteBranch(ctx, c, pr)
		return fmt.Sprintf("Closed at @%s's request. medic will not propose this change again for incident %s.", user, forge.Code(pr.IncidentID)), nil
	case VerbRetry:
		switch {
		case pr.State != forge.StateOpen:
			return fmt.Sprintf("Nothing to retry: this pull request is %s.", pr.State), nil
		case !pr.Automerge:
			return "Nothing to retry: the policy requires a human review, so medic does not merge this pull request; merge it yourself when you agree.", nil
		}
		got, err := e.forge.Merge(ctx, pr)
		switch {
		case errors.Is(err, forge.ErrNotReady):
			return "Still waiting: " + forge.Text(err.Error(), 1000) + ". medic merges it when the checks pass.", nil
		case err != nil:
			return "", err
		}
		return "Merge retried: " + mergeWords(got.Merge) + ".", nil
	case VerbRevert:
		switch pr.State {
		case forge.StateOpen:
			if _, err := e.forge.Close(ctx, pr, ""); err != nil {
				return "", err
			}
			e.deleteBranch(ctx, c, pr)
			return "Nothing was merged yet, so reverting means closing: closed.", nil
		case forge.StateClosed:
			return "This pull request was closed without merging: nothing to revert.", nil
		}
		revert := e.hooks.Revert
		if revert == nil {
			revert = func(ctx context.Context, pr forge.PullRequest) (forge.PullRequest, error) {
				return e.forge.Revert(ctx, pr, user)
			}
		}
		rev, err := revert(ctx, pr)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("Opened #%d to revert this change.", rev.Number), nil
	}
	if cmd.Unknown != "" {
		return fmt.Sprintf("Unknown command %s. %s", forge.Code(cmd.Unknown), usage), nil
	}
	return usage, nil
}

func mergeWords(m forge.MergeStatus) string {
	switch m {
	case forge.MergeAuto:
		return "GitHub's auto-merge is on"
	case forge.MergeQueued:
		return "it is in the merge queue"
	case forge.MergeCompleted:
		return "merged"
	case forge.MergeWaiting:
		return "waiting for required checks"
	}
	return "nothing to do"
}

// explain answers /medic explain from the pull request's own record: the
// incident, the intent and the medic/policy decision on its head.
func (e *Events) explain(ctx context.Context, c *gh.Client, pr forge.PullRequest) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "medic opened this pull request for incident %s with a %s change.\n\n", forge.Code(pr.IncidentID), forge.Code(pr.Intent))
	runs, _, err := c.Checks.ListCheckRunsForRef(ctx, pr.Repo.Owner, pr.Repo.Name, pr.Head,
		// Only medic's own run: another App may name a run medic/policy,
		// and its summary is not medic's decision.
		&gh.ListCheckRunsOptions{CheckName: gh.String(CheckName), AppID: gh.Int64(e.forge.app.cfg.AppID)})
	if err != nil {
		return "", classify("read the medic/policy check run", err)
	}
	if len(runs.CheckRuns) == 0 {
		b.WriteString("No policy decision is recorded on this pull request's head commit (someone else pushed to it?), so medic will not merge it.\n")
	} else {
		run := runs.CheckRuns[0]
		fmt.Fprintf(&b, "**Policy:** %s\n\n%s\n", run.GetOutput().GetTitle(), run.GetOutput().GetSummary())
	}
	fmt.Fprintf(&b, "\n**Merge:** %s. The evidence, the proposal's rationale and both diffs are in the description.", mergeWords(pr.Merge))
	return b.String(), nil
}

func (e *Events) deleteBranch(ctx context.Context, c *gh.Client, pr forge.PullRequest) {
	if _, err := c.Git.DeleteRef(ctx, pr.Repo.Owner, pr.Repo.Name, "heads/"+pr.Branch); err != nil && statusOf(err) != http.StatusUnprocessableEntity {
		e.logger.Warn("branch not deleted", keyRepo, pr.Repo.String(), keyPR, pr.Number, "error", classify("delete branch", err))
	}
}

func (e *Events) react(ctx context.Context, c *gh.Client, repo forge.Repo, commentID int64, content string) error {
	if commentID == 0 {
		return nil // a check run button: no comment to react to
	}
	if _, _, err := c.Reactions.CreateIssueCommentReaction(ctx, repo.Owner, repo.Name, commentID, content); err != nil {
		return classify("react to the command", err)
	}
	return nil
}

func (e *Events) reply(ctx context.Context, c *gh.Client, repo forge.Repo, number int, commentID int64, reaction, text string) error {
	if err := e.react(ctx, c, repo, commentID, reaction); err != nil {
		return err
	}
	if _, _, err := c.Issues.CreateComment(ctx, repo.Owner, repo.Name, number, &gh.IssueComment{Body: &text}); err != nil {
		return classify(fmt.Sprintf("answer on #%d", number), err)
	}
	return nil
}

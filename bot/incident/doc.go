// Package incident holds medic's unit of work, the Incident: one sick
// workload of one repository and the anomalies that made medic look at it;
// the state machine of its life; and the Grouper that turns anomalies into
// incidents. Nothing here touches a store, starts a goroutine or reads a
// clock: Next is a pure function, and the Grouper's decisions depend only
// on its inputs and its Ledger. Times are event times (the telemetry's clock) handed in by the caller, so
// a replay of recorded telemetry makes the same incidents, ids and
// decisions as the live run did.
//
// # States
//
//	none          ──opened────────▶ detected
//	detected      ──settled───────▶ proposing     (suggest, propose)
//	detected      ──suppressed────▶ suppressed    (flapping, cooldown, open cap)
//	proposing     ──suppressed────▶ suppressed    (run cap, from AdmitPR)
//	proposing     ──no_proposal───▶ no_action
//	proposing     ──pr_opened─────▶ proposed      (merge, when the policy automerges)
//	proposed      ──pr_merged─────▶ merged        (verify)
//	proposed      ──pr_closed─────▶ closed        (closed by hand)
//	suppressed, no_action, merged ──quiet──▶ closed
//	merged        ──verifying─────▶ verifying
//	verifying     ──recovered─────▶ recovered     (comment)
//	verifying     ──not_recovered─▶ not_recovered (revert)
//	not_recovered ──revert_opened─▶ reverting     (merge, when the policy automerges)
//	reverting     ──revert_merged─▶ reverted      (comment)
//	proposing, proposed, merged, verifying, not_recovered, reverting ──failed──▶ escalated
//	                                              (comment, where a pull request exists)
//
// Next(state, event) is the whole machine; an event not valid in a state
// is an error naming both. An anomaly joining an open incident, and a pull
// request's branch update, change no state: they update the incident
// document but are no Transition. Terminal states (closed, recovered,
// reverted, escalated) accept no event. Open is every other stored state;
// Active is open minus suppressed and no_action, and only active incidents
// count towards a repository's max_open_per_repo. The verification and
// revert states are designed here and driven by the next issue; until then
// a merged incident closes when quiet.
//
// # Steps
//
// Next returns the actions the caller performs once the transition is
// stored. Each is a step keyed by (incident id, StepName(action, seq)),
// seq being the transition's 1-based position in the incident's history,
// so that after a restart the caller finds a step's stored result instead
// of repeating it, and performs the steps it has no result for instead of
// skipping them. settled asks for suggest then propose (both keyed by the
// same seq); propose is preceded by Grouper.AdmitPR, and when the suggest
// step returned no proposal the caller sends no_proposal instead.
// pr_opened with Automerge asks for merge, pr_merged for verify.
//
// # Grouping
//
// The Grouper holds one open incident per (repository, workload key). An
// anomaly joins it (the same anomaly delivered twice is a duplicate and
// changes nothing); otherwise it opens a new incident whose id NewID
// derives from the repository, the workload key, how many incidents the
// workload had (counted through the Ledger) and the anomaly (onset, time,
// signal, detector). A new incident is suppressed, with the cause
// recorded, when
//   - its repository already has max_open_per_repo active incidents;
//   - a pull request for the workload merged within cooldown (a
//     transition into merged, counted through the Ledger);
//   - flap.max_incidents incidents of the workload reached the crew (a
//     transition into proposing) within flap.window: it keeps coming back.
//
// A detected incident settles (the crew is asked) once settle has passed
// since it opened, so that the crew sees the anomalies that follow the
// first. Incidents
// with nothing in flight close with quiet: no_action and merged ones after
// a grouping window without anomalies, suppressed ones a window after they
// were suppressed so the workload is judged afresh. Observe applies what
// is due for the anomaly's workload; Tick(now) for all of them.
//
// Run caps come from the repository's .medic.yaml limits: AdmitPR refuses
// (suppresses) a pull request when limits.prs_per_hour transitions into
// proposed happened in the repository within the last hour, or
// limits.prs_per_workload_per_day for the workload within 24 hours. Like
// cooldown and flapping they are counted through the Ledger, which the
// store implements, so they hold across restarts; a Ledger error fails
// closed. Each update the Grouper returns must be stored before the next
// call, or the counts miss it.
//
// Shadow mode drives the same states: the loop records proposed with the
// cause "shadow", and merged (the policy would automerge) or closed (it
// would wait for a person), so that caps, cooldown and history read as the
// live run's would.
//
// # Restart
//
// The Grouper keeps only open incidents in memory. After a restart the
// loop lists the store's open incidents and hands them to Restore as
// Tracked values (document, state, the last transition's time and cause,
// the number of transitions, and Admitted: whether a proposing incident's
// propose step was recorded); everything older lives in the Ledger. The
// loop then resumes each open incident's steps by name: a step with a
// stored result is not performed again (a propose step with a result
// skips AdmitPR and sends pr_opened from the stored pull request), and a
// step without one is performed. Restoring and going on makes the same
// decisions as never stopping; the tests restart at every step of a
// scripted run and at random points of seeded random runs to prove it.
//
// # Limits
//
// max_anomalies bounds an incident's document (later anomalies are counted
// in DroppedAnomalies), and max_tracked the open incidents held in memory
// (an anomaly that would open one more is refused with an error), so that
// untrusted telemetry naming ever new workloads cannot grow memory without
// bound.
package incident

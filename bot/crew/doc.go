// Package crew turns an incident into proposals: typed intents with the
// rationale that cites the evidence, a confidence, the source that made
// them, and the alternatives considered and rejected, each with its reason.
//
// A Crew reads the incident's anomalies and the repository through a
// RepoView: the repository at the base commit, the rendered target
// (containers with their images, resources and environment, replicas, the
// HPA that scales it) and the recent commits that touched the target before
// an event time, with what each changed in the rendered target. History is
// read relative to the telemetry's event time, never the wall clock, so
// replay asks "what changed before the onset?" as it was then.
//
// The playbook crew (Playbook) is deterministic: rules from symptom to
// intent with values computed from the evidence. When no change to the
// repository can help (a dependency outage, node pressure, noise) it
// returns a *NoAction error naming why, which the loop records as the
// incident's no_action state. crew imports bot/incident, patchers, policy
// and detect; nothing in it writes.
package crew

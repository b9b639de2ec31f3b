# medic's default policy. Conventions: deny (not proposed), review (a human
# merges), automerge (medic may merge), labels. Configuration comes from
# data.medic.config; every key is optional and defaults to default_config.
package medic

default_config := {
	# Environments that are production; an empty environment counts too.
	"production_environments": ["production", "prod"],
	# Hours (UTC, Monday to Friday, [start, end)) when production changes
	# may be merged automatically.
	"allowed_hours": {"start": 9, "end": 17},
	# Change freezes: [{"start": RFC3339, "end": RFC3339, "reason": "..."}].
	"freeze_windows": [],
	"protected_namespaces": ["kube-system", "kube-public", "kube-node-lease"],
	"protected_namespace_prefixes": ["kube-", "openshift-"],
	# A limit may at most be multiplied by this, and stay within the caps.
	"max_resource_factor": 2,
	"max_memory": "8Gi",
	"max_cpu": "4",
	# Replica cap when the incident does not say the HPA's maxReplicas.
	"max_replicas": 20,
}

default user_config := {}

user_config := data.medic.config

cfg := object.union(default_config, user_config)

intent := input.proposal.intent

target := intent.target

rbac_kinds := {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}

# Every deny and review reason names the rule that fired and its values.

production if input.repo.environment in cfg.production_environments

production if input.repo.environment == ""

# Why ns is protected; undefined when it is not.
protected_why(ns) := "it is in protected_namespaces" if {
	ns in cfg.protected_namespaces
} else := sprintf("its prefix %s is in protected_namespace_prefixes", [ps[0]]) if {
	ps := sort([p | some p in cfg.protected_namespace_prefixes; startswith(ns, p)])
	count(ps) > 0
}

deny contains msg if {
	why := protected_why(target.namespace)
	msg := sprintf("target namespace %s is protected: %s", [target.namespace, why])
}

deny contains msg if {
	some o in input.change.changed_objects
	why := protected_why(object.get(o, "namespace", ""))
	msg := sprintf("change touches %s/%s in namespace %s, which is protected: %s", [o.kind, o.name, o.namespace, why])
}

deny contains msg if {
	some o in input.change.changed_objects
	o.kind in rbac_kinds
	msg := sprintf("change touches RBAC object %s/%s; medic never proposes changes to %s", [o.kind, o.name, concat(", ", sort(rbac_kinds))])
}

review contains msg if {
	some f in input.change.files
	contains(f.diff, "+++ /dev/null")
	msg := sprintf("change deletes %s; a deletion is never merged automatically", [f.path])
}

is_target(o) if {
	o.kind == target.kind
	o.name == target.name
	object.get(o, "namespace", target.namespace) == target.namespace
}

is_target(o) if {
	intent.kind == "set_hpa"
	o.kind == "HorizontalPodAutoscaler"
	object.get(o, "namespace", target.namespace) == target.namespace
}

review contains msg if {
	some o in input.change.changed_objects
	not is_target(o)
	msg := sprintf("change touches %s/%s besides the target %s/%s", [o.kind, o.name, target.kind, target.name])
}

freezes contains w if {
	some w in cfg.freeze_windows
	now := time.now_ns()
	time.parse_rfc3339_ns(w.start) <= now
	now < time.parse_rfc3339_ns(w.end)
}

review contains msg if {
	some w in freezes
	msg := sprintf("change freeze %s to %s: %s", [w.start, w.end, w.reason])
}

in_allowed_hours if {
	[h, _, _] := time.clock([time.now_ns(), "UTC"])
	h >= cfg.allowed_hours.start
	h < cfg.allowed_hours.end
	not time.weekday(time.now_ns()) in {"Saturday", "Sunday"}
}

review contains msg if {
	production
	not in_allowed_hours
	[h, m, _] := time.clock([time.now_ns(), "UTC"])
	msg := sprintf(
		"production change (environment %q) at %s %02d:%02d UTC is outside the auto-merge hours %02d:00-%02d:00 UTC, Monday to Friday",
		[input.repo.environment, time.weekday(time.now_ns()), h, m, cfg.allowed_hours.start, cfg.allowed_hours.end],
	)
}

# The values of a field on the removed (-) and added (+) lines of the
# rendered diff, as written; a trailing YAML comment is allowed.
diff_strings(sign, field) := [m[1] |
	some m in regex.find_all_string_submatch_n(
		sprintf(`(?m)^\%s\s+%s:\s*["']?([0-9.]+[a-zA-Z]*)["']?\s*(#.*)?$`, [sign, field]),
		input.change.rendered_diff, -1,
	)
]

# The same values parsed as quantities.
diff_values(sign, field) := [units.parse(v) | some v in diff_strings(sign, field)]

caps := {"memory": units.parse(cfg.max_memory), "cpu": units.parse(cfg.max_cpu)}

cap_names := {"memory": "max_memory", "cpu": "max_cpu"}

limit_ok(res, v) if {
	res in {"memory", "cpu"}
	units.parse(v) <= caps[res]
	olds := diff_values("-", res)
	news := diff_values("+", res)
	count(olds) > 0
	count(olds) == count(news)
	every i, o in olds {
		news[i] > o
		news[i] <= o * cfg.max_resource_factor
	}
}

safe_intent if {
	intent.kind == "set_resources"
	object.keys(intent.params) == {"limits"}
	count(intent.params.limits) > 0
	every res, v in intent.params.limits {
		limit_ok(res, v)
	}
}

# not_auto holds why an intent of a kind medic merges is not merged: each
# check of safe_intent that fails, with its values.
not_auto contains msg if {
	intent.kind == "set_resources"
	extra := object.keys(intent.params) - {"limits"}
	count(extra) > 0
	msg := sprintf("set_resources sets %s besides limits; only limit raises are merged automatically", [concat(", ", sort(extra))])
}

not_auto contains "set_resources sets no limits; only limit raises are merged automatically" if {
	intent.kind == "set_resources"
	count(object.get(intent.params, "limits", {})) == 0
}

not_auto contains msg if {
	intent.kind == "set_resources"
	some res, _ in intent.params.limits
	not res in {"memory", "cpu"}
	msg := sprintf("%s limit is not merged automatically; only memory and cpu limits are", [res])
}

not_auto contains msg if {
	intent.kind == "set_resources"
	some res, v in intent.params.limits
	units.parse(v) > caps[res]
	msg := sprintf("%s limit %s is above the %s cap %s", [res, v, cap_names[res], cfg[cap_names[res]]])
}

not_auto contains msg if {
	intent.kind == "set_resources"
	some res, _ in intent.params.limits
	res in {"memory", "cpu"}
	count(diff_strings("-", res)) == 0
	msg := sprintf("the rendered diff changes no existing %s limit; only raises of an existing limit are merged automatically", [res])
}

not_auto contains msg if {
	intent.kind == "set_resources"
	some res, _ in intent.params.limits
	res in {"memory", "cpu"}
	olds := diff_strings("-", res)
	news := diff_strings("+", res)
	count(olds) > 0
	count(olds) != count(news)
	msg := sprintf("the rendered diff removes %d %s lines and adds %d; medic merges only one-for-one raises", [count(olds), res, count(news)])
}

# Each old -> new limit pair of the rendered diff that is not a raise
# within max_resource_factor.
not_auto contains msg if {
	intent.kind == "set_resources"
	some res, _ in intent.params.limits
	res in {"memory", "cpu"}
	olds := diff_strings("-", res)
	news := diff_strings("+", res)
	count(olds) == count(news)
	some i, old in olds
	msg := pair_problem(res, old, news[i])
}

pair_problem(res, old, new) := sprintf("%s limit %s -> %s is not a raise", [res, old, new]) if {
	units.parse(new) <= units.parse(old)
} else := sprintf("%s limit %s -> %s is a raise from zero, which has no auto-merge bound", [res, old, new]) if {
	units.parse(old) == 0
} else := sprintf("%s limit %s -> %s is %vx, above the %vx auto-merge bound", [res, old, new, ratio, cfg.max_resource_factor]) if {
	f := units.parse(new) / units.parse(old)
	f > cfg.max_resource_factor
	ratio := round(f * 100) / 100
}

replica_cap := input.incident.hpa.max_replicas if input.incident.hpa.max_replicas

else := cfg.max_replicas

replica_cap_name := "the HPA's maxReplicas" if input.incident.hpa.max_replicas

else := "max_replicas"

safe_intent if {
	intent.kind == "scale"
	olds := diff_values("-", "replicas")
	count(olds) == 1
	intent.params.replicas > olds[0]
	intent.params.replicas <= replica_cap
}

not_auto contains msg if {
	intent.kind == "scale"
	olds := diff_strings("-", "replicas")
	count(olds) != 1
	msg := sprintf("the rendered diff changes %d replicas lines; medic merges a scale of exactly one", [count(olds)])
}

not_auto contains msg if {
	intent.kind == "scale"
	[old] := diff_values("-", "replicas")
	intent.params.replicas <= old
	msg := sprintf("replicas %v -> %v is not a scale up", [old, intent.params.replicas])
}

not_auto contains msg if {
	intent.kind == "scale"
	[old] := diff_values("-", "replicas")
	intent.params.replicas > replica_cap
	msg := sprintf("replicas %v -> %v is above %s %v", [old, intent.params.replicas, replica_cap_name, replica_cap])
}

safe_intent if {
	intent.kind == "rollback_image"
	intent.params.previous == true
}

safe_intent if {
	intent.kind == "rollback_image"
	input.proposal.source == "history"
}

not_auto contains msg if {
	intent.kind == "rollback_image"
	not intent.params.previous == true
	input.proposal.source != "history"
	msg := sprintf("rollback_image to a named image from a %s proposal; medic merges only a rollback to the previous image or one taken from history", [input.proposal.source])
}

# Every intent kind (patchers/intent.schema.json) is in exactly one of
# these: kinds medic merges on its own when safe_intent holds, and kinds a
# human always merges. policy/kinds_test.go fails when a kind is in
# neither, so a new kind gets a decision here, not a default.
auto_kinds := {"set_resources", "scale", "rollback_image"}

review_kinds := {"set_hpa", "set_env", "revert_commit"}

review contains msg if {
	not intent.kind in auto_kinds
	msg := sprintf("%s is not one of the intent kinds medic merges on its own (%s)", [intent.kind, concat(", ", sort(auto_kinds))])
}

review contains msg if {
	not intent.kind in auto_kinds
	not intent.kind in review_kinds
	msg := sprintf("%s is an intent kind this policy does not know", [intent.kind])
}

review contains msg if some msg in not_auto

# A safety check failed without a reason above (e.g. a parameter of the
# wrong type): still a review, and say so.
review contains msg if {
	intent.kind in auto_kinds
	not safe_intent
	count(not_auto) == 0
	msg := sprintf("%s parameters did not pass medic's auto-merge checks", [intent.kind])
}

review contains "the change is empty: there is nothing to merge" if input.change.no_op

automerge if {
	safe_intent
	count(not_auto) == 0
}

labels contains sprintf("medic/%s", [intent.kind])

labels contains "medic/freeze" if count(freezes) > 0

labels contains "medic/production" if production

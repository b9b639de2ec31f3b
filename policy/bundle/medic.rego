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

production if input.repo.environment in cfg.production_environments

production if input.repo.environment == ""

protected_namespace(ns) if ns in cfg.protected_namespaces

protected_namespace(ns) if {
	some p in cfg.protected_namespace_prefixes
	startswith(ns, p)
}

deny contains msg if {
	protected_namespace(target.namespace)
	msg := sprintf("namespace %s is protected", [target.namespace])
}

deny contains msg if {
	some o in input.change.changed_objects
	protected_namespace(object.get(o, "namespace", ""))
	msg := sprintf("change touches %s/%s in protected namespace %s", [o.kind, o.name, o.namespace])
}

deny contains msg if {
	some o in input.change.changed_objects
	o.kind in rbac_kinds
	msg := sprintf("change touches RBAC object %s/%s", [o.kind, o.name])
}

review contains msg if {
	some f in input.change.files
	contains(f.diff, "+++ /dev/null")
	msg := sprintf("change deletes %s", [f.path])
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
	msg := sprintf("change touches %s/%s besides the target", [o.kind, o.name])
}

freezes contains w.reason if {
	some w in cfg.freeze_windows
	now := time.now_ns()
	time.parse_rfc3339_ns(w.start) <= now
	now < time.parse_rfc3339_ns(w.end)
}

review contains msg if {
	some r in freezes
	msg := sprintf("change freeze: %s", [r])
}

in_allowed_hours if {
	[h, _, _] := time.clock([time.now_ns(), "UTC"])
	h >= cfg.allowed_hours.start
	h < cfg.allowed_hours.end
	not time.weekday(time.now_ns()) in {"Saturday", "Sunday"}
}

review contains "production change outside allowed hours" if {
	production
	not in_allowed_hours
}

# Values of a field on the removed (-) and added (+) lines of the rendered
# diff, parsed as quantities; a trailing YAML comment is allowed.
diff_values(sign, field) := [units.parse(m[1]) |
	some m in regex.find_all_string_submatch_n(
		sprintf(`(?m)^\%s\s+%s:\s*["']?([0-9.]+[a-zA-Z]*)["']?\s*(#.*)?$`, [sign, field]),
		input.change.rendered_diff, -1,
	)
]

caps := {"memory": units.parse(cfg.max_memory), "cpu": units.parse(cfg.max_cpu)}

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

replica_cap := input.incident.hpa.max_replicas if input.incident.hpa.max_replicas

else := cfg.max_replicas

safe_intent if {
	intent.kind == "scale"
	olds := diff_values("-", "replicas")
	count(olds) == 1
	intent.params.replicas > olds[0]
	intent.params.replicas <= replica_cap
}

safe_intent if {
	intent.kind == "rollback_image"
	intent.params.previous == true
}

safe_intent if {
	intent.kind == "rollback_image"
	input.proposal.source == "history"
}

review contains msg if {
	not safe_intent
	msg := sprintf("%s is not one of the changes medic merges on its own", [intent.kind])
}

review contains "the change is empty" if input.change.no_op

automerge if safe_intent

labels contains sprintf("medic/%s", [intent.kind])

labels contains "medic/freeze" if count(freezes) > 0

labels contains "medic/production" if production

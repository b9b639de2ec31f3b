package medic_test

import data.medic

mem_input(env, old, new) := {
	"proposal": {"source": "playbook", "intent": {
		"kind": "set_resources",
		"target": {"namespace": "shop", "kind": "Deployment", "name": "cart", "container": "cart"},
		"params": {"limits": {"memory": new}},
	}},
	"change": {
		"files": [{"path": "apps/cart.yaml", "diff": "--- a/apps/cart.yaml\n+++ b/apps/cart.yaml\n"}],
		"rendered_diff": sprintf("-            memory: %s\n+            memory: %s\n", [old, new]),
		"changed_objects": [{"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "cart"}],
		"summary": "raise memory",
	},
	"repo": {"owner": "acme", "name": "infra", "default_branch": "main", "environment": env},
	"now": "2026-11-25T12:00:00Z",
}

scale_input(old, new, hpa_max) := json.patch(mem_input("staging", "1", "1"), [
	{"op": "replace", "path": "/proposal/intent", "value": {"kind": "scale", "target": {"namespace": "shop", "kind": "Deployment", "name": "cart"}, "params": {"replicas": new}}},
	{"op": "replace", "path": "/change/rendered_diff", "value": sprintf("-  replicas: %d\n+  replicas: %d\n", [old, new])},
	{"op": "add", "path": "/incident", "value": {"hpa": {"max_replicas": hpa_max}}},
])

rollback_input(params) := json.patch(mem_input("staging", "1", "1"), [{"op": "replace", "path": "/proposal/intent", "value": {
	"kind": "rollback_image",
	"target": {"namespace": "shop", "kind": "Deployment", "name": "cart"},
	"params": params,
}}])

test_memory_1_5x_staging_automerges if {
	medic.automerge with input as mem_input("staging", "512Mi", "768Mi")
	count(medic.review) == 0 with input as mem_input("staging", "512Mi", "768Mi")
}

test_memory_8x_names_the_factor_bound if {
	not medic.automerge with input as mem_input("staging", "512Mi", "4Gi")
	medic.review == {"memory limit 512Mi -> 4Gi is 8x, above the 2x auto-merge bound"} with input as mem_input("staging", "512Mi", "4Gi")
}

test_memory_3x_goes_to_review if {
	not medic.automerge with input as mem_input("staging", "512Mi", "1536Mi")
	medic.review == {"memory limit 512Mi -> 1536Mi is 3x, above the 2x auto-merge bound"} with input as mem_input("staging", "512Mi", "1536Mi")
}

test_factor_bound_from_config if {
	medic.review == {"memory limit 512Mi -> 1Gi is 2x, above the 1.5x auto-merge bound"} with input as mem_input("staging", "512Mi", "1Gi")
		with data.medic.config as {"max_resource_factor": 1.5}
}

test_memory_above_cap_names_the_cap if {
	not medic.automerge with input as mem_input("staging", "6Gi", "9Gi")
	medic.review == {"memory limit 9Gi is above the max_memory cap 8Gi"} with input as mem_input("staging", "6Gi", "9Gi")
}

test_memory_decrease_is_not_a_raise if {
	not medic.automerge with input as mem_input("staging", "1Gi", "768Mi")
	medic.review == {"memory limit 1Gi -> 768Mi is not a raise"} with input as mem_input("staging", "1Gi", "768Mi")
}

test_requests_besides_limits_review if {
	doc := json.patch(mem_input("staging", "512Mi", "768Mi"), [{"op": "add", "path": "/proposal/intent/params/requests", "value": {"memory": "768Mi"}}])
	medic.review == {"set_resources sets requests besides limits; only limit raises are merged automatically"} with input as doc
}

test_unlisted_resource_review if {
	doc := json.patch(mem_input("staging", "512Mi", "768Mi"), [{"op": "add", "path": "/proposal/intent/params/limits/ephemeral-storage", "value": "1Gi"}])
	medic.review["ephemeral-storage limit is not merged automatically; only memory and cpu limits are"] with input as doc
}

test_no_old_limit_in_diff_review if {
	doc := json.patch(mem_input("staging", "512Mi", "768Mi"), [{"op": "replace", "path": "/change/rendered_diff", "value": "+            memory: 768Mi\n"}])
	medic.review == {"the rendered diff changes no existing memory limit; only raises of an existing limit are merged automatically"} with input as doc
}

test_uneven_diff_review if {
	doc := json.patch(mem_input("staging", "512Mi", "768Mi"), [{"op": "replace", "path": "/change/rendered_diff", "value": "-    memory: 512Mi\n-    memory: 256Mi\n+    memory: 768Mi\n"}])
	medic.review == {"the rendered diff removes 2 memory lines and adds 1; medic merges only one-for-one raises"} with input as doc
}

test_kube_system_denied if {
	doc := json.patch(mem_input("staging", "512Mi", "768Mi"), [{"op": "replace", "path": "/proposal/intent/target/namespace", "value": "kube-system"}])
	medic.deny == {"target namespace kube-system is protected: it is in protected_namespaces"} with input as doc
}

test_protected_prefix_denied if {
	doc := json.patch(mem_input("staging", "512Mi", "768Mi"), [
		{"op": "replace", "path": "/proposal/intent/target/namespace", "value": "openshift-ingress"},
		{"op": "replace", "path": "/change/changed_objects/0/namespace", "value": "openshift-ingress"},
	])
	medic.deny == {
		"target namespace openshift-ingress is protected: its prefix openshift- is in protected_namespace_prefixes",
		"change touches Deployment/cart in namespace openshift-ingress, which is protected: its prefix openshift- is in protected_namespace_prefixes",
	} with input as doc
}

test_freeze_window_reviews if {
	medic.review == {"change freeze 2026-11-25T00:00:00Z to 2026-11-30T00:00:00Z: black friday"} with input as mem_input("staging", "512Mi", "768Mi")
		with data.medic.config as {"freeze_windows": [{"start": "2026-11-25T00:00:00Z", "end": "2026-11-30T00:00:00Z", "reason": "black friday"}]}
		with time.now_ns as time.parse_rfc3339_ns("2026-11-25T12:00:00Z")
}

test_production_outside_hours_reviews if {
	medic.review == {`production change (environment "production") at Wednesday 22:00 UTC is outside the auto-merge hours 09:00-17:00 UTC, Monday to Friday`} with input as mem_input("production", "512Mi", "768Mi")
		with time.now_ns as time.parse_rfc3339_ns("2026-11-25T22:00:00Z")
}

test_production_inside_hours_no_review if {
	count(medic.review) == 0 with input as mem_input("production", "512Mi", "768Mi")
		with time.now_ns as time.parse_rfc3339_ns("2026-11-25T10:00:00Z")
}

test_production_on_saturday_reviews if {
	medic.review == {`production change (environment "prod") at Saturday 10:05 UTC is outside the auto-merge hours 09:00-17:00 UTC, Monday to Friday`} with input as mem_input("prod", "512Mi", "768Mi")
		with time.now_ns as time.parse_rfc3339_ns("2026-11-28T10:05:00Z")
}

test_rollback_previous_automerges if {
	medic.automerge with input as rollback_input({"previous": true})
}

test_rollback_named_image_reviews if {
	medic.review == {"rollback_image to a named image from a playbook proposal; medic merges only a rollback to the previous image or one taken from history"} with input as rollback_input({"image": "evil/cart:latest"})
}

test_rbac_denied if {
	doc := json.patch(mem_input("staging", "512Mi", "768Mi"), [{"op": "add", "path": "/change/changed_objects/-", "value": {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "name": "admin"}}])
	medic.deny == {"change touches RBAC object ClusterRole/admin; medic never proposes changes to ClusterRole, ClusterRoleBinding, Role, RoleBinding"} with input as doc
	medic.review == {"change touches ClusterRole/admin besides the target Deployment/cart"} with input as doc
}

test_limit_line_with_yaml_comment_automerges if {
	doc := json.patch(mem_input("staging", "512Mi", "768Mi"), [{"op": "replace", "path": "/change/rendered_diff", "value": "-    memory: 512Mi # raised after INC-231\n+    memory: 768Mi # raised after INC-231\n"}])
	medic.automerge with input as doc
}

test_scale_within_hpa_max_automerges if {
	medic.automerge with input as scale_input(2, 4, 5)
}

test_scale_beyond_hpa_max_names_the_cap if {
	not medic.automerge with input as scale_input(2, 8, 5)
	medic.review == {"replicas 2 -> 8 is above the HPA's maxReplicas 5"} with input as scale_input(2, 8, 5)
}

test_scale_beyond_max_replicas_names_the_config if {
	doc := json.patch(scale_input(2, 30, 5), [{"op": "remove", "path": "/incident"}])
	medic.review == {"replicas 2 -> 30 is above max_replicas 20"} with input as doc
}

test_scale_down_reviews if {
	medic.review == {"replicas 4 -> 2 is not a scale up"} with input as scale_input(4, 2, 5)
}

test_other_kind_names_the_kinds_merged if {
	doc := json.patch(mem_input("staging", "1", "1"), [{"op": "replace", "path": "/proposal/intent/kind", "value": "set_hpa"}])
	medic.review["set_hpa is not one of the intent kinds medic merges on its own (rollback_image, scale, set_resources)"] with input as doc
}

test_deleted_file_reviews if {
	doc := json.patch(mem_input("staging", "512Mi", "768Mi"), [{"op": "add", "path": "/change/files/-", "value": {"path": "apps/old.yaml", "diff": "--- a/apps/old.yaml\n+++ /dev/null\n"}}])
	medic.review == {"change deletes apps/old.yaml; a deletion is never merged automatically"} with input as doc
}

test_empty_change_reviews if {
	doc := json.patch(mem_input("staging", "512Mi", "768Mi"), [{"op": "add", "path": "/change/no_op", "value": true}])
	medic.review["the change is empty: there is nothing to merge"] with input as doc
}

# Every reason names a rule's values: none is the old blanket sentence.
test_no_reason_without_values if {
	every doc in [mem_input("staging", "512Mi", "4Gi"), scale_input(2, 8, 5), rollback_input({"image": "x"})] {
		rs := medic.review with input as doc
		count(rs) > 0
		every r in rs {
			not contains(r, "is not one of the changes")
		}
	}
}

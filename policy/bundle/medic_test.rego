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

test_memory_1_5x_staging_automerges if {
	medic.automerge with input as mem_input("staging", "512Mi", "768Mi")
	count(medic.review) == 0 with input as mem_input("staging", "512Mi", "768Mi")
}

test_memory_3x_goes_to_review if {
	not medic.automerge with input as mem_input("staging", "512Mi", "1536Mi")
	count(medic.review) == 1 with input as mem_input("staging", "512Mi", "1536Mi")
}

test_memory_above_cap_is_not_automerged if {
	not medic.automerge with input as mem_input("staging", "6Gi", "9Gi")
}

test_memory_decrease_is_not_automerged if {
	not medic.automerge with input as mem_input("staging", "1Gi", "768Mi")
}

test_kube_system_denied if {
	doc := json.patch(mem_input("staging", "512Mi", "768Mi"), [{"op": "replace", "path": "/proposal/intent/target/namespace", "value": "kube-system"}])
	count(medic.deny) > 0 with input as doc
}

test_freeze_window_reviews if {
	medic.review["change freeze: black friday"] with input as mem_input("staging", "512Mi", "768Mi")
		with data.medic.config as {"freeze_windows": [{"start": "2026-11-25T00:00:00Z", "end": "2026-11-30T00:00:00Z", "reason": "black friday"}]}
		with time.now_ns as time.parse_rfc3339_ns("2026-11-25T12:00:00Z")
}

test_production_outside_hours_reviews if {
	medic.review["production change outside allowed hours"] with input as mem_input("production", "512Mi", "768Mi")
		with time.now_ns as time.parse_rfc3339_ns("2026-11-25T22:00:00Z")
}

test_production_inside_hours_no_hours_review if {
	not medic.review["production change outside allowed hours"] with input as mem_input("production", "512Mi", "768Mi")
		with time.now_ns as time.parse_rfc3339_ns("2026-11-25T10:00:00Z")
}

test_rollback_previous_automerges if {
	doc := json.patch(mem_input("staging", "1", "1"), [{"op": "replace", "path": "/proposal/intent", "value": {
		"kind": "rollback_image",
		"target": {"namespace": "shop", "kind": "Deployment", "name": "cart"},
		"params": {"previous": true},
	}}])
	medic.automerge with input as doc
}

test_rbac_denied if {
	doc := json.patch(mem_input("staging", "512Mi", "768Mi"), [{"op": "add", "path": "/change/changed_objects/-", "value": {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "name": "admin"}}])
	count(medic.deny) > 0 with input as doc
}

test_limit_line_with_yaml_comment_automerges if {
	doc := json.patch(mem_input("staging", "512Mi", "768Mi"), [{"op": "replace", "path": "/change/rendered_diff", "value": "-    memory: 512Mi # raised after INC-231\n+    memory: 768Mi # raised after INC-231\n"}])
	medic.automerge with input as doc
}

test_production_on_saturday_reviews if {
	medic.review["production change outside allowed hours"] with input as mem_input("production", "512Mi", "768Mi")
		with time.now_ns as time.parse_rfc3339_ns("2026-11-28T10:00:00Z")
}

test_scale_within_hpa_max_automerges if {
	doc := json.patch(mem_input("staging", "1", "1"), [
		{"op": "replace", "path": "/proposal/intent", "value": {"kind": "scale", "target": {"namespace": "shop", "kind": "Deployment", "name": "cart"}, "params": {"replicas": 4}}},
		{"op": "replace", "path": "/change/rendered_diff", "value": "-  replicas: 2\n+  replicas: 4\n"},
		{"op": "add", "path": "/incident", "value": {"hpa": {"max_replicas": 5}}},
	])
	medic.automerge with input as doc
}

test_scale_beyond_hpa_max_is_not_automerged if {
	doc := json.patch(mem_input("staging", "1", "1"), [
		{"op": "replace", "path": "/proposal/intent", "value": {"kind": "scale", "target": {"namespace": "shop", "kind": "Deployment", "name": "cart"}, "params": {"replicas": 8}}},
		{"op": "replace", "path": "/change/rendered_diff", "value": "-  replicas: 2\n+  replicas: 8\n"},
		{"op": "add", "path": "/incident", "value": {"hpa": {"max_replicas": 5}}},
	])
	not medic.automerge with input as doc
}

test_deleted_file_reviews if {
	doc := json.patch(mem_input("staging", "512Mi", "768Mi"), [{"op": "add", "path": "/change/files/-", "value": {"path": "apps/old.yaml", "diff": "--- a/apps/old.yaml\n+++ /dev/null\n"}}])
	medic.review["change deletes apps/old.yaml"] with input as doc
}

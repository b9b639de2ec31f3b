// Package helm is the patcher for repositories that hold Helm charts: it
// turns an Intent into an edit of the values file of the target's
// environment, never of the chart's templates.
//
// # Environments
//
// Without any configuration file, environments are found by the names of
// values files. For a chart in directory D (a directory holding
// Chart.yaml, not vendored under another chart), with name N (Chart.yaml's
// name), each of these is the values file of environment E:
//
//	D/values-E.yaml, D/values.E.yaml (or .yml)
//	environments/E/N.yaml, environments/E/N/values.yaml, environments/E/values.yaml
//	(also under envs/ or env/ instead of environments/)
//
// The release is named N, and environment E deploys it to namespace N-E,
// E-N or E; a production environment (prod, production, prd, live) also to
// namespace N. The intent's target namespace picks the environment: the
// fixture's environments/staging/values.yaml is release shop in
// namespace shop-staging, environments/prod/values.yaml is release shop in
// namespace shop. A chart with no environment files is rendered with its
// own values.yaml into the target's namespace, and that file is edited.
//
// # Finding the values key
//
// The patcher renders the chart (like helm template) with the chart's
// values.yaml and the environment file, finds the target workload, and
// then probes: it sets one candidate values key to a sentinel in the
// environment file, renders again, and checks whether the target field
// took the sentinel and nothing but the target (and its
// HorizontalPodAutoscaler) changed. Candidates are the keys of the merged
// values tree whose value equals the rendered field first, then keys the
// field's name suggests that do not exist yet (resources.limits.cpu under
// a map named resources or limits; a new variable next to the
// container's other variables, in a map or in a list of name/value
// items), then every other key; keys under the
// workload's name are tried before others. A key that also moves other
// objects is refused rather than used. Images are set through one key
// holding the whole reference, or a repository key and a tag key.
// set_hpa turns the HPA on through the boolean key that makes one appear
// when the environment has none.
//
// # Edits
//
// Edits are made in the file's bytes at the positions yaml.v3's nodes
// give: comments, key order, blank lines, quoting and indentation stay as
// they were. Missing keys are added at the end of the deepest existing
// map, with the file's indentation step, quoted like the chart's default
// for the same key. After the edit the chart is rendered again and the
// change is refused unless the target field has the intended value, no
// other field of the target and nothing outside the target and its HPA
// changed (other charts reading the same values file included), limits
// are not below requests and replicas and HPA bounds agree. Every edit
// also checks itself: the edited file must decode to the original values
// with only the one key changed.
//
// Not edited (a clear error instead): values reached through YAML anchors
// or aliases, flow mappings, block scalars, plain scalars over several
// lines, and a list the environment file does not hold yet (adding one
// would replace the chart's whole list).
//
// rollback_image with previous: true and revert_commit need git history:
// on its own the patcher returns ErrNotSupported for them, and
// patchers/history wraps it to carry them out (medic patch does so inside a
// git work tree).
package helm

// Package manifest is the patcher for plain manifest folders: YAML files of
// Kubernetes objects with no kustomization and no Helm chart.
//
// It finds the one document that defines the intent's target across every
// *.yaml and *.yml file of the repository and edits that document in place,
// as text: the YAML is parsed (gopkg.in/yaml.v3) only to locate the nodes to
// change, and the edit replaces or inserts exactly those bytes, so comments,
// key order, indentation, quoting and "---" separators stay as they were and
// every other document of the file is byte-identical.
//
// Namespaces: a document without metadata.namespace is taken to belong to
// the namespace named by the first folder of its path ("shop/cart.yaml" is
// in "shop"), or to "default" when the file sits at the repository root.
// This is the rule `kubectl apply -f` users commonly follow with one folder
// per namespace; a document that names its namespace always wins.
//
// rollback_image with previous: true and revert_commit need git history: on
// its own the patcher returns ErrNotSupported for them, and
// patchers/history wraps it to carry them out.
package manifest

package githubtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// GraphQL is not in GitHub's OpenAPI description, so this part of the
// double is checked by hand, against GitHub's public GraphQL schema as
// documented: the operation must parse, be one of the supported fields,
// declare its variables with the schema's types, pass values of those
// types and select only fields the double knows of the returned types.
//
// Supported:
//
//	mutation enablePullRequestAutoMerge(input: EnablePullRequestAutoMergeInput!)
//	mutation disablePullRequestAutoMerge(input: DisablePullRequestAutoMergeInput!)
//	mutation enqueuePullRequest(input: EnqueuePullRequestInput!)
//	mutation dequeuePullRequest(input: DequeuePullRequestInput!)
//	query node(id: ID!) { ... on PullRequest { ... } }
//	query repository(owner: String!, name: String!) { pullRequest(number: Int!) { ... } }

// inputTypes are the input objects of the supported mutations: field name
// to GraphQL type ("!" when required).
var inputTypes = map[string]map[string]string{
	"EnablePullRequestAutoMergeInput": {
		"pullRequestId": "ID!", "mergeMethod": "PullRequestMergeMethod", "commitHeadline": "String",
		"commitBody": "String", "expectedHeadOid": "GitObjectID", "authorEmail": "String", "clientMutationId": "String",
	},
	"DisablePullRequestAutoMergeInput": {"pullRequestId": "ID!", "clientMutationId": "String"},
	"EnqueuePullRequestInput": {
		"pullRequestId": "ID!", "expectedHeadOid": "GitObjectID", "jump": "Boolean", "clientMutationId": "String",
	},
	"DequeuePullRequestInput": {"id": "ID!", "clientMutationId": "String"},
}

var enumValues = map[string][]string{
	"PullRequestMergeMethod": {"MERGE", "SQUASH", "REBASE"},
}

// fieldArgs are the arguments of the supported root fields and of
// Repository.pullRequest.
var fieldArgs = map[string]map[string]string{
	"enablePullRequestAutoMerge":  {"input": "EnablePullRequestAutoMergeInput!"},
	"disablePullRequestAutoMerge": {"input": "DisablePullRequestAutoMergeInput!"},
	"enqueuePullRequest":          {"input": "EnqueuePullRequestInput!"},
	"dequeuePullRequest":          {"input": "DequeuePullRequestInput!"},
	"node":                        {"id": "ID!"},
	"repository":                  {"owner": "String!", "name": "String!", "followRenames": "Boolean"},
	"Repository.pullRequest":      {"number": "Int!"},
}

var mutationFields = map[string]bool{"enablePullRequestAutoMerge": true, "disablePullRequestAutoMerge": true, "enqueuePullRequest": true, "dequeuePullRequest": true}
var queryFields = map[string]bool{"node": true, "repository": true}

type gqlError struct {
	Type      string         `json:"type,omitempty"`
	Path      []any          `json:"path,omitempty"`
	Locations []gqlLocation  `json:"locations,omitempty"`
	Message   string         `json:"message"`
	Ext       map[string]any `json:"extensions,omitempty"`
}

type gqlLocation struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

func loc(p *ast.Position) []gqlLocation {
	if p == nil {
		return nil
	}
	return []gqlLocation{{Line: p.Line, Column: p.Column}}
}

func (s *Server) serveGraphQL(w http.ResponseWriter, r *http.Request) {
	s.rateHeaders(w.Header())
	w.Header().Set("X-RateLimit-Resource", "graphql")
	if r.Method != http.MethodPost {
		s.errorf("%s /api/graphql: GraphQL takes POST", r.Method)
		writeJSON(w, http.StatusNotFound, ghError("Not Found", "404"))
		return
	}
	s.mu.Lock()
	inst, ok := s.liveToken(credentials(r.Header.Get("Authorization")))
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Bad credentials", "documentation_url": "https://docs.github.com/graphql"})
		return
	}
	if f := s.takeFailure(r.Method, "/graphql"); f != nil {
		for k, v := range f.headers {
			w.Header().Set(k, v)
		}
		writeJSON(w, f.status, map[string]any{"message": f.message, "documentation_url": "https://docs.github.com/graphql"})
		return
	}
	var req struct {
		Query         string         `json:"query"`
		Variables     map[string]any `json:"variables"`
		OperationName string         `json:"operationName"`
	}
	body, _ := io.ReadAll(r.Body)
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil || req.Query == "" {
		s.errorf("POST /api/graphql: body is not {\"query\", \"variables\"}: %v", err)
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Problems parsing JSON", "documentation_url": "https://docs.github.com/graphql"})
		return
	}
	data, errs, invalid := s.execGraphQL(inst, req.Query, req.Variables, req.OperationName)
	if invalid {
		for _, e := range errs {
			s.errorf("POST /api/graphql: invalid operation: %s", e.Message)
		}
		writeJSON(w, http.StatusOK, map[string]any{"errors": errs})
		return
	}
	out := map[string]any{"data": data}
	if len(errs) > 0 {
		out["errors"] = errs
	}
	writeJSON(w, http.StatusOK, out)
}

// execGraphQL runs one operation. invalid reports a request that does not
// fit GitHub's schema (the double records it as an error); errors
// without invalid are GitHub's answers, such as UNPROCESSABLE.
func (s *Server) execGraphQL(inst int64, query string, vars map[string]any, opName string) (data map[string]any, errs []gqlError, invalid bool) {
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		return nil, []gqlError{{Message: "Parse error: " + err.Error()}}, true
	}
	var op *ast.OperationDefinition
	switch {
	case opName != "":
		op = doc.Operations.ForName(opName)
	case len(doc.Operations) == 1:
		op = doc.Operations[0]
	}
	if op == nil {
		return nil, []gqlError{{Message: "An operation name is required when the document has several operations, and must name one of them"}}, true
	}
	if vars == nil {
		vars = map[string]any{}
	}
	v := &gqlValidator{doc: doc, op: op, vars: vars}
	roots := queryFields
	if op.Operation == ast.Mutation {
		roots = mutationFields
	} else if op.Operation != ast.Query {
		return nil, []gqlError{{Message: "Subscriptions are not supported"}}, true
	}
	fields := v.fields(op.SelectionSet, map[string]bool{"Query": op.Operation == ast.Query, "Mutation": op.Operation == ast.Mutation})
	for _, f := range fields {
		if !roots[f.Name] && f.Name != "__typename" {
			v.fail(f.Position, "Field '%s' doesn't exist on type '%s'", f.Name, map[bool]string{true: "Mutation", false: "Query"}[op.Operation == ast.Mutation])
		}
	}
	v.walkArgs(op.SelectionSet, "", map[string]bool{})
	for _, d := range op.VariableDefinitions {
		v.checkVariable(d)
	}
	if len(v.errs) > 0 {
		return nil, v.errs, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	data = map[string]any{}
	for _, f := range fields {
		key := f.Alias
		if key == "" {
			key = f.Name
		}
		if f.Name == "__typename" {
			data[key] = map[bool]string{true: "Mutation", false: "Query"}[op.Operation == ast.Mutation]
			continue
		}
		args := map[string]any{}
		for _, a := range f.Arguments {
			args[a.Name], _ = a.Value.Value(vars)
		}
		obj, typ, gerr := s.resolveRoot(inst, f.Name, args, f.SelectionSet, v)
		if gerr != nil {
			gerr.Path = []any{key}
			gerr.Locations = loc(f.Position)
			errs = append(errs, *gerr)
			data[key] = nil
			continue
		}
		data[key] = v.project(f, obj, typ)
	}
	if len(v.errs) > 0 {
		return nil, v.errs, true
	}
	return data, errs, false
}

// resolveRoot answers one root field; obj is a map with "__typename", or
// nil.
func (s *Server) resolveRoot(inst int64, field string, args map[string]any, sel ast.SelectionSet, v *gqlValidator) (any, string, *gqlError) {
	input, _ := args["input"].(map[string]any)
	switch field {
	case "node":
		id := fmt.Sprint(args["id"])
		r, p := s.pullByNodeLocked(inst, id)
		if p == nil {
			return nil, "", &gqlError{Type: "NOT_FOUND", Message: fmt.Sprintf("Could not resolve to a node with the global id of '%s'", id)}
		}
		s.refreshHeadLocked(r, p)
		return s.gqlPull(r, p), "PullRequest", nil
	case "repository":
		owner, name := fmt.Sprint(args["owner"]), fmt.Sprint(args["name"])
		r := s.repos[repoKey(owner, name)]
		if r == nil || r.opts.Installation != inst {
			return nil, "", &gqlError{Type: "NOT_FOUND", Message: fmt.Sprintf("Could not resolve to a Repository with the name '%s/%s'.", owner, name)}
		}
		return s.gqlRepo(r), "Repository", nil
	}
	id := fmt.Sprint(input["pullRequestId"])
	if field == "dequeuePullRequest" {
		id = strings.TrimSuffix(fmt.Sprint(input["id"]), "-entry")
	}
	r, p := s.pullByNodeLocked(inst, id)
	if p == nil {
		return nil, "", &gqlError{Type: "NOT_FOUND", Message: fmt.Sprintf("Could not resolve to a node with the global id of '%s'", id)}
	}
	unprocessable := func(msg string) (any, string, *gqlError) {
		return nil, "", &gqlError{Type: "UNPROCESSABLE", Message: msg}
	}
	s.refreshHeadLocked(r, p)
	if oid, ok := input["expectedHeadOid"].(string); ok && oid != p.HeadSHA {
		return unprocessable("Head branch was modified. Review and try the merge again.")
	}
	now := s.now().UTC().Truncate(time.Second)
	payload := map[string]any{"__typename": "", "clientMutationId": input["clientMutationId"], "actor": s.gqlActor()}
	switch field {
	case "enablePullRequestAutoMerge":
		payload["__typename"] = "EnablePullRequestAutoMergePayload"
		switch {
		case p.State != "open":
			return unprocessable("Pull request is not in the correct state to enable auto-merge")
		case !r.opts.AllowAutoMerge:
			return unprocessable("Pull request Auto merge is not allowed for this repository")
		case r.opts.MergeQueue && p.Base == r.opts.DefaultBranch:
			return unprocessable("Changes must be made through the merge queue")
		}
		if mergeable, state := r.mergeable(p); mergeable == true && state == "clean" {
			// GitHub refuses auto-merge for a pull request that can merge now.
			return unprocessable("Pull request Pull request is in clean status")
		}
		method := "MERGE"
		if m, ok := input["mergeMethod"].(string); ok {
			method = m
		}
		if p.AutoMerge == nil {
			p.AutoMerge = &AutoMerge{Method: strings.ToLower(method), Enabled: now}
		}
		payload["pullRequest"] = s.gqlPull(r, p)
	case "disablePullRequestAutoMerge":
		payload["__typename"] = "DisablePullRequestAutoMergePayload"
		p.AutoMerge = nil
		payload["pullRequest"] = s.gqlPull(r, p)
	case "enqueuePullRequest":
		payload["__typename"] = "EnqueuePullRequestPayload"
		switch {
		case p.State != "open":
			return unprocessable("Pull request is closed")
		case !r.opts.MergeQueue || p.Base != r.opts.DefaultBranch:
			return unprocessable("The base branch of this pull request does not use a merge queue")
		}
		if !p.Queued {
			p.Queued, p.QueuedAt = true, now
		}
		payload["mergeQueueEntry"] = s.gqlEntry(r, p, true)
		defer s.autoMergeLocked(r)
	case "dequeuePullRequest":
		payload["__typename"] = "DequeuePullRequestPayload"
		if !p.Queued {
			return unprocessable("Pull request is not in the merge queue")
		}
		payload["mergeQueueEntry"] = s.gqlEntry(r, p, true)
		p.Queued = false
	}
	return payload, payload["__typename"].(string), nil
}

func (s *Server) pullByNodeLocked(inst int64, id string) (*repoState, *PullRequest) {
	for _, r := range s.repos {
		if r.opts.Installation != inst {
			continue
		}
		for _, p := range r.pulls {
			if p.NodeID == id {
				return r, p
			}
		}
	}
	return nil, nil
}

func (s *Server) gqlActor() map[string]any {
	return map[string]any{"__typename": "Bot", "login": strings.TrimSuffix(appBot, "[bot]"), "url": s.web("apps/medic-test")}
}

func (s *Server) gqlRepo(r *repoState) map[string]any {
	return map[string]any{
		"__typename": "Repository", "id": r.nodeID, "name": r.opts.Name,
		"nameWithOwner": r.opts.Owner + "/" + r.opts.Name, "owner": map[string]any{"__typename": "Organization", "login": r.opts.Owner},
		"autoMergeAllowed": r.opts.AllowAutoMerge, "url": s.web("%s/%s", r.opts.Owner, r.opts.Name),
		"pullRequest": func(args map[string]any) (any, string) {
			n, _ := args["number"].(int64)
			if p := r.pulls[int(n)]; p != nil {
				s.refreshHeadLocked(r, p)
				return s.gqlPull(r, p), "PullRequest"
			}
			return nil, ""
		},
	}
}

func (s *Server) gqlPull(r *repoState, p *PullRequest) map[string]any {
	state := "OPEN"
	switch {
	case p.Merged:
		state = "MERGED"
	case p.State == "closed":
		state = "CLOSED"
	}
	mergeable := "MERGEABLE"
	if m, _ := r.mergeable(p); m == false {
		mergeable = "CONFLICTING"
	} else if m == nil {
		mergeable = "UNKNOWN"
	}
	var autoMerge, mergeCommit any
	if p.AutoMerge != nil {
		autoMerge = map[string]any{
			"__typename": "AutoMergeRequest", "enabledAt": ts(p.AutoMerge.Enabled),
			"mergeMethod": strings.ToUpper(p.AutoMerge.Method), "enabledBy": s.gqlActor(),
			"commitHeadline": nil, "commitBody": nil, "authorEmail": nil,
		}
	}
	if p.MergeCommitSHA != "" {
		mergeCommit = map[string]any{"__typename": "Commit", "oid": p.MergeCommitSHA}
	}
	m := map[string]any{
		"__typename": "PullRequest", "id": p.NodeID, "number": p.Number, "title": p.Title, "body": p.Body,
		"url":   s.web("%s/%s/pull/%d", r.opts.Owner, r.opts.Name, p.Number),
		"state": state, "merged": p.Merged, "closed": p.State == "closed", "isDraft": p.Draft,
		"headRefName": p.Head, "baseRefName": p.Base, "headRefOid": p.HeadSHA, "baseRefOid": p.BaseSHA,
		"mergeable": mergeable, "autoMergeRequest": autoMerge, "isInMergeQueue": p.Queued,
		"mergeCommit": mergeCommit, "mergedAt": ts(p.MergedAt), "createdAt": ts(p.Created), "updatedAt": ts(p.Updated),
	}
	m["mergeQueueEntry"] = s.gqlEntry(r, p, false)
	m["repository"] = map[string]any{"__typename": "Repository", "id": r.nodeID, "name": r.opts.Name,
		"nameWithOwner": r.opts.Owner + "/" + r.opts.Name, "owner": map[string]any{"__typename": "Organization", "login": r.opts.Owner}}
	return m
}

// gqlEntry is a pull request's MergeQueueEntry, or nil when it is not
// queued; withPR adds the entry's pullRequest.
func (s *Server) gqlEntry(r *repoState, p *PullRequest, withPR bool) any {
	if !p.Queued {
		return nil
	}
	var queued []*PullRequest
	for _, q := range r.pulls {
		if q.Queued {
			queued = append(queued, q)
		}
	}
	sort.Slice(queued, func(i, j int) bool {
		if !queued[i].QueuedAt.Equal(queued[j].QueuedAt) {
			return queued[i].QueuedAt.Before(queued[j].QueuedAt)
		}
		return queued[i].Number < queued[j].Number
	})
	pos := 1
	for i, q := range queued {
		if q == p {
			pos = i + 1
		}
	}
	state := "AWAITING_CHECKS"
	if r.blockingCheck(p.HeadSHA) == "" {
		state = "MERGEABLE"
	}
	e := map[string]any{"__typename": "MergeQueueEntry", "id": p.NodeID + "-entry", "position": pos, "state": state,
		"enqueuedAt": ts(p.QueuedAt), "headCommit": map[string]any{"__typename": "Commit", "oid": p.HeadSHA}}
	if withPR {
		e["pullRequest"] = s.gqlPull(r, p)
	}
	return e
}

// gqlValidator collects the ways an operation does not fit the schema.
type gqlValidator struct {
	doc  *ast.QueryDocument
	op   *ast.OperationDefinition
	vars map[string]any
	errs []gqlError
	used map[string]string // variable -> type it is used as
}

func (v *gqlValidator) fail(p *ast.Position, format string, args ...any) {
	v.errs = append(v.errs, gqlError{Message: fmt.Sprintf(format, args...), Locations: loc(p)})
}

// fields flattens a selection set's fields for an object of one of types,
// following inline fragments and fragment spreads.
func (v *gqlValidator) fields(set ast.SelectionSet, types map[string]bool) []*ast.Field {
	var out []*ast.Field
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			out = append(out, sel)
		case *ast.InlineFragment:
			if sel.TypeCondition == "" || types[sel.TypeCondition] {
				out = append(out, v.fields(sel.SelectionSet, types)...)
			}
		case *ast.FragmentSpread:
			fr := v.doc.Fragments.ForName(sel.Name)
			if fr == nil {
				v.fail(sel.Position, "Fragment %s was used, but not defined", sel.Name)
				continue
			}
			if types[fr.TypeCondition] {
				out = append(out, v.fields(fr.SelectionSet, types)...)
			}
		}
	}
	return out
}

// walkArgs checks the arguments of every field in a selection set,
// whatever the type conditions.
func (v *gqlValidator) walkArgs(set ast.SelectionSet, parent string, seen map[string]bool) {
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			v.args(sel, parent)
			v.walkArgs(sel.SelectionSet, sel.Name, seen)
		case *ast.InlineFragment:
			v.walkArgs(sel.SelectionSet, parent, seen)
		case *ast.FragmentSpread:
			if fr := v.doc.Fragments.ForName(sel.Name); fr != nil && !seen[sel.Name] {
				seen[sel.Name] = true
				v.walkArgs(fr.SelectionSet, parent, seen)
			}
		}
	}
}

// args checks a field's arguments against fieldArgs; parent is the name
// of the enclosing field ("" at the root).
func (v *gqlValidator) args(f *ast.Field, parent string) {
	key := f.Name
	if parent == "repository" && f.Name == "pullRequest" {
		key = "Repository.pullRequest"
	} else if parent != "" {
		key = "-"
	}
	want := fieldArgs[key]
	for _, a := range f.Arguments {
		typ, ok := want[a.Name]
		if !ok {
			v.fail(a.Position, "Field '%s' doesn't accept argument '%s'", f.Name, a.Name)
			continue
		}
		v.value(a.Value, typ, f.Name+"."+a.Name)
	}
	for name, typ := range want {
		if strings.HasSuffix(typ, "!") && f.Arguments.ForName(name) == nil {
			v.fail(f.Position, "Field '%s' is missing required arguments: %s", f.Name, name)
		}
	}
}

// value checks an argument value (a literal or a variable) against a
// GraphQL type.
func (v *gqlValidator) value(val *ast.Value, typ, where string) {
	named := strings.TrimSuffix(typ, "!")
	if val.Kind == ast.Variable {
		if v.used == nil {
			v.used = map[string]string{}
		}
		d := v.op.VariableDefinitions.ForName(val.Raw)
		if d == nil {
			v.fail(val.Position, "Variable $%s is used by %s but not declared", val.Raw, where)
			return
		}
		declared := d.Type.String()
		if strings.TrimSuffix(declared, "!") != named {
			v.fail(val.Position, "Type mismatch on variable $%s and argument %s (%s / %s)", val.Raw, where, declared, typ)
		} else if strings.HasSuffix(typ, "!") && !strings.HasSuffix(declared, "!") && d.DefaultValue == nil {
			v.fail(val.Position, "Nullability mismatch on variable $%s and argument %s (%s / %s)", val.Raw, where, declared, typ)
		}
		v.used[val.Raw] = typ
		return
	}
	if fields, ok := inputTypes[named]; ok {
		if val.Kind != ast.ObjectValue {
			v.fail(val.Position, "Argument '%s' on %s has an invalid value (%s). Expected type '%s'.", where, where, val.String(), typ)
			return
		}
		for _, c := range val.Children {
			ft, ok := fields[c.Name]
			if !ok {
				v.fail(c.Position, "InputObject '%s' doesn't accept argument '%s'", named, c.Name)
				continue
			}
			v.value(c.Value, ft, named+"."+c.Name)
		}
		for name, ft := range fields {
			if strings.HasSuffix(ft, "!") && val.Children.ForName(name) == nil {
				v.fail(val.Position, "Argument '%s' on InputObject '%s' is required. Expected type %s", name, named, ft)
			}
		}
		return
	}
	ok := true
	switch named {
	case "ID":
		ok = val.Kind == ast.StringValue || val.Kind == ast.IntValue
	case "String", "GitObjectID":
		ok = val.Kind == ast.StringValue || val.Kind == ast.BlockValue
	case "Int":
		ok = val.Kind == ast.IntValue
	case "Boolean":
		ok = val.Kind == ast.BooleanValue
	default:
		if enum, isEnum := enumValues[named]; isEnum {
			ok = val.Kind == ast.EnumValue && slices.Contains(enum, val.Raw)
		}
	}
	if val.Kind == ast.NullValue {
		ok = !strings.HasSuffix(typ, "!")
	}
	if !ok {
		v.fail(val.Position, "Argument '%s' has an invalid value (%s). Expected type '%s'.", where, val.String(), typ)
	}
}

// checkVariable checks a declared variable's JSON value against its
// declared type.
func (v *gqlValidator) checkVariable(d *ast.VariableDefinition) {
	val, present := v.vars[d.Variable]
	typ := d.Type.String()
	if _, used := v.used[d.Variable]; !used {
		v.fail(d.Position, "Variable $%s is declared by %s but not used", d.Variable, v.op.Name)
	}
	if !present || val == nil {
		if d.Type.NonNull && d.DefaultValue == nil {
			v.fail(d.Position, "Variable $%s of type %s was provided invalid value", d.Variable, typ)
		}
		return
	}
	if msg := checkJSON(val, typ); msg != "" {
		v.fail(d.Position, "Variable $%s of type %s was provided invalid value (%s)", d.Variable, typ, msg)
	}
}

// checkJSON checks a variable's JSON value against a GraphQL type; it
// returns what is wrong, or "".
func checkJSON(val any, typ string) string {
	named := strings.TrimSuffix(typ, "!")
	if val == nil {
		if strings.HasSuffix(typ, "!") {
			return "null for a non-null type"
		}
		return ""
	}
	if fields, ok := inputTypes[named]; ok {
		obj, ok := val.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s is not an object", named)
		}
		for k, fv := range obj {
			ft, ok := fields[k]
			if !ok {
				return fmt.Sprintf("Field is not defined on %s: %s", named, k)
			}
			if msg := checkJSON(fv, ft); msg != "" {
				return k + ": " + msg
			}
		}
		for k, ft := range fields {
			if _, ok := obj[k]; !ok && strings.HasSuffix(ft, "!") {
				return fmt.Sprintf("Expected value to not be null: %s", k)
			}
		}
		return ""
	}
	switch named {
	case "ID":
		switch val.(type) {
		case string, json.Number:
			return ""
		}
	case "String", "GitObjectID":
		if _, ok := val.(string); ok {
			return ""
		}
	case "Int":
		if n, ok := val.(json.Number); ok {
			if _, err := n.Int64(); err == nil {
				return ""
			}
		}
	case "Boolean":
		if _, ok := val.(bool); ok {
			return ""
		}
	default:
		if enum, ok := enumValues[named]; ok {
			if s, ok := val.(string); ok && slices.Contains(enum, s) {
				return ""
			}
			return fmt.Sprintf("Expected %q to be one of: %s", fmt.Sprint(val), strings.Join(enum, ", "))
		}
		return "unknown type " + named
	}
	return fmt.Sprintf("Could not coerce value %v to %s", val, named)
}

// project answers a field's selection set from obj, a map describing an
// object (with "__typename"), a list of them, or a scalar. A selected
// field obj does not have is an error of the request.
func (v *gqlValidator) project(f *ast.Field, obj any, typ string) any {
	switch o := obj.(type) {
	case nil:
		return nil
	case map[string]any:
		if len(f.SelectionSet) == 0 {
			v.fail(f.Position, "Field must have selections (field '%s' returns %s but has no selections.)", f.Name, typ)
			return nil
		}
		out := map[string]any{}
		types := map[string]bool{typ: true, "Node": true}
		if typ == "Bot" || typ == "User" {
			types["Actor"] = true
		}
		for _, sub := range v.fields(f.SelectionSet, types) {
			key := sub.Alias
			if key == "" {
				key = sub.Name
			}
			if sub.Name == "__typename" {
				out[key] = typ
				continue
			}
			val, ok := o[sub.Name]
			if !ok {
				v.fail(sub.Position, "Field '%s' doesn't exist on type '%s'", sub.Name, typ)
				continue
			}
			if fn, isFn := val.(func(map[string]any) (any, string)); isFn {
				args := map[string]any{}
				for _, a := range sub.Arguments {
					args[a.Name], _ = a.Value.Value(v.vars)
					if n, ok := args[a.Name].(json.Number); ok {
						args[a.Name], _ = n.Int64()
					}
				}
				res, rt := fn(args)
				out[key] = v.project(sub, res, rt)
				continue
			}
			subTyp := ""
			if m, ok := val.(map[string]any); ok {
				subTyp, _ = m["__typename"].(string)
			}
			out[key] = v.project(sub, val, subTyp)
		}
		return out
	default:
		if len(f.SelectionSet) > 0 {
			v.fail(f.Position, "Selections can't be made on scalars (field '%s')", f.Name)
		}
		return obj
	}
}

package githubtest

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

type restRequest struct {
	r      *http.Request
	op     *operation
	params map[string]string
	body   []byte
	query  url.Values
}

func (q *restRequest) decode(v any) error {
	if len(q.body) == 0 || string(q.body) == "null" {
		return nil
	}
	return json.Unmarshal(q.body, v)
}

func (q *restRequest) intParam(name string) int64 {
	n, _ := strconv.ParseInt(q.params[name], 10, 64)
	return n
}

// appBot is the login of the test App's bot user.
const appBot = "medic-test[bot]"

func status(code int, body any) reply { return reply{status: code, body: body} }

func notFound() reply { return status(http.StatusNotFound, ghError("Not Found", "404")) }

// jwtOperations are authenticated as the App (a JWT), not an installation.
var jwtOperations = map[string]bool{
	"POST /app/installations/{installation_id}/access_tokens": true,
	"GET /repos/{owner}/{repo}/installation":                  true,
}

// handle authenticates a valid request and answers it from the state.
// It holds the server's lock: resolvers and mergers run under it and must
// not call the Server.
func (s *Server) handle(q *restRequest) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok := credentials(q.r.Header.Get("Authorization"))
	if tok == "" {
		return status(http.StatusUnauthorized, ghError("Requires authentication", "401"))
	}
	var r *repoState
	if owner, ok := q.params["owner"]; ok {
		r = s.repos[repoKey(owner, q.params["repo"])]
	}
	if jwtOperations[q.op.key] {
		if err := s.checkAppJWT(tok); err != nil {
			return status(http.StatusUnauthorized, ghError(err.Error(), "401"))
		}
		if q.op.key == "GET /repos/{owner}/{repo}/installation" {
			if r == nil {
				return notFound()
			}
			return status(http.StatusOK, s.installationJSON(s.installations[r.opts.Installation]))
		}
		return s.createToken(q)
	}
	inst, ok := s.liveToken(tok)
	if !ok {
		return status(http.StatusUnauthorized, ghError("Bad credentials", "401"))
	}
	// Like GitHub: another installation's private repository does not
	// exist for this token; a public one can be read but not written.
	if r == nil || r.opts.Installation != inst && r.opts.Private {
		return notFound()
	}
	if r.opts.Installation != inst && q.r.Method != http.MethodGet {
		return status(http.StatusForbidden, map[string]any{"message": "Resource not accessible by integration",
			"documentation_url": docsURL, "status": "403"})
	}
	switch q.op.key {
	case "GET /repos/{owner}/{repo}":
		return status(http.StatusOK, s.repoJSON(r))
	case "GET /repos/{owner}/{repo}/contents/{path}":
		return s.getContents(q, r)
	case "GET /repos/{owner}/{repo}/pulls":
		return s.listPulls(q, r)
	case "POST /repos/{owner}/{repo}/pulls":
		return s.createPull(q, r)
	case "GET /repos/{owner}/{repo}/pulls/{pull_number}":
		p := r.pulls[int(q.intParam("pull_number"))]
		if p == nil {
			return notFound()
		}
		s.refreshHeadLocked(r, p)
		return status(http.StatusOK, s.prJSON(r, p, false))
	case "PATCH /repos/{owner}/{repo}/pulls/{pull_number}":
		return s.updatePull(q, r)
	case "PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge":
		return s.mergePull(q, r)
	case "POST /repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers":
		return s.requestReviewers(q, r)
	case "POST /repos/{owner}/{repo}/issues/{issue_number}/labels":
		return s.addLabels(q, r)
	case "POST /repos/{owner}/{repo}/issues/{issue_number}/comments":
		return s.createComment(q, r)
	case "POST /repos/{owner}/{repo}/issues":
		return s.createIssue(q, r)
	case "GET /repos/{owner}/{repo}/issues":
		return s.listIssues(q, r)
	case "POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions":
		return s.createReaction(q, r)
	case "POST /repos/{owner}/{repo}/check-runs":
		return s.createCheckRun(q, r)
	case "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}":
		return s.updateCheckRun(q, r)
	case "GET /repos/{owner}/{repo}/commits/{ref}/check-runs":
		return s.listCheckRuns(q, r)
	case "GET /repos/{owner}/{repo}/commits/{ref}/status":
		return s.combinedStatus(q, r)
	case "GET /repos/{owner}/{repo}/collaborators/{username}/permission":
		return s.permission(q, r)
	case "DELETE /repos/{owner}/{repo}/git/refs/{ref}":
		return s.deleteRef(q, r)
	}
	s.errs = append(s.errs, fmt.Sprintf("%s: described but not implemented by the double", q.op.key))
	return notFound()
}

func (s *Server) createToken(q *restRequest) reply {
	in := s.installations[q.intParam("installation_id")]
	if in == nil {
		return notFound()
	}
	var opts struct {
		Repositories []string `json:"repositories"`
	}
	if err := q.decode(&opts); err != nil {
		return status(http.StatusBadRequest, ghError("Problems parsing JSON", "400"))
	}
	for _, name := range opts.Repositories {
		r := s.repos[repoKey(in.account, name)]
		if r == nil || r.opts.Installation != in.id {
			return status(http.StatusUnprocessableEntity, ghError("There is at least one repository that does not exist or is not accessible to the parent installation.", "422"))
		}
	}
	tok, exp := s.issueTokenLocked(in.id)
	return status(http.StatusCreated, map[string]any{
		"token":                tok,
		"expires_at":           exp.Format(time.RFC3339),
		"permissions":          appPermissions(),
		"repository_selection": "selected",
	})
}

func appPermissions() map[string]any {
	return map[string]any{
		"contents": "write", "pull_requests": "write", "issues": "write", "checks": "write",
		"statuses": "read", "metadata": "read",
	}
}

func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

func (s *Server) api(format string, args ...any) string {
	return s.srv.URL + "/api/v3/" + fmt.Sprintf(format, args...)
}

func (s *Server) web(format string, args ...any) string {
	return s.srv.URL + "/" + fmt.Sprintf(format, args...)
}

func smallID(parts ...string) int64 {
	h := fnv.New32a()
	h.Write([]byte(strings.Join(parts, "\x00")))
	return int64(h.Sum32()&0x7fffffff) + 1
}

func (s *Server) userJSON(login string) map[string]any {
	typ := "User"
	if strings.HasSuffix(login, "[bot]") {
		typ = "Bot"
	}
	id := smallID("user", strings.ToLower(login))
	return map[string]any{
		"login": login, "id": id, "node_id": nodeID("U_", id), "type": typ, "site_admin": false,
		"url": s.api("users/%s", url.PathEscape(login)), "html_url": s.web("%s", url.PathEscape(login)),
		"avatar_url": s.web("avatars/%s", url.PathEscape(login)),
	}
}

func (s *Server) installationJSON(in *installation) map[string]any {
	return map[string]any{
		"id": in.id, "app_id": s.appID, "app_slug": "medic-test", "target_id": smallID("user", strings.ToLower(in.account)),
		"target_type": "Organization", "account": s.userJSON(in.account),
		"repository_selection": "selected", "permissions": appPermissions(), "events": []any{"pull_request", "check_run", "issue_comment"},
		"access_tokens_url": s.api("app/installations/%d/access_tokens", in.id),
		"repositories_url":  s.api("installation/repositories"),
		"html_url":          s.web("settings/installations/%d", in.id),
		"created_at":        ts(in.created), "updated_at": ts(in.created),
	}
}

func (s *Server) repoJSON(r *repoState) map[string]any {
	o := r.opts
	full := o.Owner + "/" + o.Name
	return map[string]any{
		"id": r.id, "node_id": r.nodeID, "name": o.Name, "full_name": full, "owner": s.userJSON(o.Owner),
		"private": o.Private, "visibility": map[bool]string{true: "private", false: "public"}[o.Private],
		"default_branch": o.DefaultBranch, "clone_url": o.CloneURL,
		"html_url": s.web("%s", full), "url": s.api("repos/%s", full),
		"git_url":          "git://" + strings.TrimPrefix(strings.TrimPrefix(s.srv.URL, "http://"), "https://") + "/" + full + ".git",
		"ssh_url":          "git@" + strings.TrimPrefix(strings.TrimPrefix(s.srv.URL, "http://"), "https://") + ":" + full + ".git",
		"allow_auto_merge": o.AllowAutoMerge, "allow_merge_commit": true, "allow_squash_merge": true, "allow_rebase_merge": true,
		"delete_branch_on_merge": false, "archived": false, "disabled": false, "fork": false,
		"has_issues": true, "has_projects": false, "has_wiki": false, "has_downloads": false,
		"created_at": ts(r.created), "updated_at": ts(r.created), "pushed_at": ts(r.created),
		"permissions": map[string]any{"admin": false, "maintain": false, "push": true, "triage": true, "pull": true},
	}
}

func (s *Server) labelJSON(r *repoState, name string) map[string]any {
	id := smallID("label", r.opts.Owner, r.opts.Name, name)
	return map[string]any{
		"id": id, "node_id": nodeID("LA_", id), "name": name, "description": "", "color": "ededed", "default": false,
		"url": s.api("repos/%s/%s/labels/%s", r.opts.Owner, r.opts.Name, url.PathEscape(name)),
	}
}

func (s *Server) labelsJSON(r *repoState, names []string) []any {
	out := []any{}
	for _, n := range names {
		out = append(out, s.labelJSON(r, n))
	}
	return out
}

func (s *Server) usersJSON(logins []string) []any {
	out := []any{}
	for _, l := range logins {
		out = append(out, s.userJSON(l))
	}
	return out
}

func (s *Server) branchJSON(r *repoState, branch, sha string) map[string]any {
	return map[string]any{
		"label": r.opts.Owner + ":" + branch, "ref": branch, "sha": sha,
		"user": s.userJSON(r.opts.Owner), "repo": s.repoJSON(r),
	}
}

// mergeableLocked is what the double reports as mergeable and
// mergeable_state for an open pull request.
func (r *repoState) mergeable(p *PullRequest) (any, string) {
	if p.State != "open" {
		return nil, "unknown"
	}
	m, st := true, "clean"
	if r.blockingCheck(p.HeadSHA) != "" {
		st = "blocked"
	}
	if p.Draft {
		st = "draft"
	}
	if r.mergeCheck != nil && !r.mergeCheck(p.HeadSHA, p.Base) {
		m, st = false, "dirty"
	}
	if p.Mergeable != nil {
		m = *p.Mergeable
	}
	if p.MergeableState != "" {
		st = p.MergeableState
	}
	return m, st
}

// prJSON is a pull-request (or pull-request-simple) object.
func (s *Server) prJSON(r *repoState, p *PullRequest, simple bool) map[string]any {
	full := r.opts.Owner + "/" + r.opts.Name
	apiURL := s.api("repos/%s/pulls/%d", full, p.Number)
	issueURL := s.api("repos/%s/issues/%d", full, p.Number)
	var autoMerge any
	if p.AutoMerge != nil {
		autoMerge = map[string]any{"enabled_by": s.userJSON(appBot), "merge_method": p.AutoMerge.Method, "commit_title": "", "commit_message": ""}
	}
	link := func(u string) map[string]any { return map[string]any{"href": u} }
	m := map[string]any{
		"id": smallID("pr", full, strconv.Itoa(p.Number)), "node_id": p.NodeID, "number": p.Number,
		"url": apiURL, "html_url": s.web("%s/pull/%d", full, p.Number),
		"diff_url": s.web("%s/pull/%d.diff", full, p.Number), "patch_url": s.web("%s/pull/%d.patch", full, p.Number),
		"issue_url": issueURL, "commits_url": apiURL + "/commits", "review_comments_url": apiURL + "/comments",
		"review_comment_url": s.api("repos/%s/pulls/comments{/number}", full), "comments_url": issueURL + "/comments",
		"statuses_url": s.api("repos/%s/statuses/%s", full, p.HeadSHA),
		"state":        p.State, "locked": false, "title": p.Title, "body": nilIfEmpty(p.Body), "draft": p.Draft,
		"user": s.userJSON(p.User), "labels": s.labelsJSON(r, p.Labels),
		"assignee": nil, "assignees": []any{}, "milestone": nil,
		"requested_reviewers": s.usersJSON(p.RequestedReviewers), "requested_teams": []any{},
		"head": s.branchJSON(r, p.Head, p.HeadSHA), "base": s.branchJSON(r, p.Base, p.BaseSHA),
		"created_at": ts(p.Created), "updated_at": ts(p.Updated), "closed_at": ts(p.Closed), "merged_at": ts(p.MergedAt),
		"merge_commit_sha": nilIfEmpty(p.MergeCommitSHA), "author_association": "NONE", "auto_merge": autoMerge,
		"active_lock_reason": nil,
		"_links": map[string]any{
			"self": link(apiURL), "html": link(s.web("%s/pull/%d", full, p.Number)), "issue": link(issueURL),
			"comments": link(issueURL + "/comments"), "review_comments": link(apiURL + "/comments"),
			"review_comment": link(s.api("repos/%s/pulls/comments{/number}", full)), "commits": link(apiURL + "/commits"),
			"statuses": link(s.api("repos/%s/statuses/%s", full, p.HeadSHA)),
		},
	}
	if !simple {
		mergeable, state := r.mergeable(p)
		var mergedBy any
		if p.Merged {
			mergedBy = s.userJSON(appBot)
		}
		m["merged"], m["mergeable"], m["mergeable_state"], m["rebaseable"] = p.Merged, mergeable, state, mergeable
		m["merged_by"], m["maintainer_can_modify"] = mergedBy, false
		m["comments"] = r.commentCount(p.Number)
		m["review_comments"], m["commits"], m["additions"], m["deletions"], m["changed_files"] = 0, 1, 0, 0, 0
	}
	return m
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (r *repoState) commentCount(n int) int {
	c := 0
	for _, cm := range r.comments {
		if cm.Issue == n {
			c++
		}
	}
	return c
}

// paginate applies per_page and page, adding GitHub's Link header.
func (s *Server) paginate(q *restRequest, items []any) ([]any, map[string]string) {
	per, _ := strconv.Atoi(q.query.Get("per_page"))
	if per <= 0 {
		per = 30
	}
	page, _ := strconv.Atoi(q.query.Get("page"))
	if page <= 0 {
		page = 1
	}
	last := max((len(items)+per-1)/per, 1)
	start := min((page-1)*per, len(items))
	end := min(start+per, len(items))
	out := append([]any{}, items[start:end]...)
	if last <= 1 {
		return out, nil
	}
	link := func(p int, rel string) string {
		v := url.Values{}
		for k, vs := range q.query {
			v[k] = vs
		}
		v.Set("page", strconv.Itoa(p))
		v.Set("per_page", strconv.Itoa(per))
		u := s.srv.URL + q.r.URL.EscapedPath() + "?" + v.Encode()
		return fmt.Sprintf("<%s>; rel=%q", u, rel)
	}
	var links []string
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"), link(page-1, "prev"))
	}
	return out, map[string]string{"Link": strings.Join(links, ", ")}
}

func gitBlobSHA(content string) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00%s", len(content), content)
	return hex.EncodeToString(h.Sum(nil))
}

func (s *Server) getContents(q *restRequest, r *repoState) reply {
	ref := q.query.Get("ref")
	if ref == "" {
		ref = r.opts.DefaultBranch
	}
	files := r.files[ref]
	if files == nil {
		// A commit of a branch reads that branch's files.
		for branch, sha := range r.refs {
			if sha == ref {
				files = r.files[branch]
			}
		}
	}
	path := strings.Trim(q.params["path"], "/")
	content, ok := files[path]
	if !ok {
		return s.listDirectory(r, ref, path, files)
	}
	full := r.opts.Owner + "/" + r.opts.Name
	sha := gitBlobSHA(content)
	enc := base64.StdEncoding.EncodeToString([]byte(content))
	// GitHub wraps the base64 at 60 characters.
	var b strings.Builder
	for len(enc) > 60 {
		b.WriteString(enc[:60] + "\n")
		enc = enc[60:]
	}
	b.WriteString(enc + "\n")
	self := s.api("repos/%s/contents/%s?ref=%s", full, path, url.QueryEscape(ref))
	gitURL := s.api("repos/%s/git/blobs/%s", full, sha)
	html := s.web("%s/blob/%s/%s", full, ref, path)
	name := path[strings.LastIndex(path, "/")+1:]
	return status(http.StatusOK, map[string]any{
		"type": "file", "encoding": "base64", "size": len(content), "name": name, "path": path,
		"content": b.String(), "sha": sha, "url": self, "git_url": gitURL, "html_url": html,
		"download_url": s.web("raw/%s/%s/%s", full, ref, path),
		"_links":       map[string]any{"self": self, "git": gitURL, "html": html},
	})
}

// listDirectory answers GET contents for a folder: its files and
// subfolders, sorted by name; 404 when nothing is under path.
func (s *Server) listDirectory(r *repoState, ref, dir string, files map[string]string) reply {
	full := r.opts.Owner + "/" + r.opts.Name
	prefix := dir + "/"
	if dir == "" {
		prefix = ""
	}
	seen := map[string]bool{}
	var names []string
	for p := range files {
		rest, ok := strings.CutPrefix(p, prefix)
		if !ok {
			continue
		}
		name, _, isDir := strings.Cut(rest, "/")
		key := name
		if isDir {
			key += "/"
		}
		if !seen[key] {
			seen[key] = true
			names = append(names, key)
		}
	}
	if len(names) == 0 {
		return notFound()
	}
	sort.Strings(names)
	var items []any
	for _, key := range names {
		name, isDir := strings.CutSuffix(key, "/")
		path := prefix + name
		typ, size, sha := "file", 0, ""
		var download any
		if isDir {
			typ, sha = "dir", fakeSHA(full, ref, path)
		} else {
			size, sha = len(files[path]), gitBlobSHA(files[path])
			download = s.web("raw/%s/%s/%s", full, ref, path)
		}
		self := s.api("repos/%s/contents/%s?ref=%s", full, path, url.QueryEscape(ref))
		gitURL := s.api("repos/%s/git/blobs/%s", full, sha)
		if isDir {
			gitURL = s.api("repos/%s/git/trees/%s", full, sha)
		}
		html := s.web("%s/blob/%s/%s", full, ref, path)
		items = append(items, map[string]any{
			"type": typ, "size": size, "name": name, "path": path, "sha": sha, "url": self,
			"git_url": gitURL, "html_url": html, "download_url": download,
			"_links": map[string]any{"self": self, "git": gitURL, "html": html},
		})
	}
	return status(http.StatusOK, items)
}

// headBranch strips an "owner:" prefix from a head, checking the owner.
func headBranch(r *repoState, head string) (string, bool) {
	if owner, branch, ok := strings.Cut(head, ":"); ok {
		return branch, strings.EqualFold(owner, r.opts.Owner)
	}
	return head, true
}

func (r *repoState) sortedPulls() []*PullRequest {
	out := make([]*PullRequest, 0, len(r.pulls))
	for _, p := range r.pulls {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number > out[j].Number })
	return out
}

func (s *Server) listPulls(q *restRequest, r *repoState) reply {
	state := q.query.Get("state")
	if state == "" {
		state = "open"
	}
	var items []any
	pulls := r.sortedPulls()
	if q.query.Get("direction") == "asc" {
		slices.Reverse(pulls)
	}
	for _, p := range pulls {
		if state != "all" && p.State != state {
			continue
		}
		if h := q.query.Get("head"); h != "" {
			owner, branch, ok := strings.Cut(h, ":")
			if !ok || !strings.EqualFold(owner, r.opts.Owner) || branch != p.Head {
				continue
			}
		}
		if b := q.query.Get("base"); b != "" && b != p.Base {
			continue
		}
		s.refreshHeadLocked(r, p)
		items = append(items, s.prJSON(r, p, true))
	}
	page, headers := s.paginate(q, items)
	return reply{status: http.StatusOK, body: page, headers: headers}
}

func (s *Server) createPull(q *restRequest, r *repoState) reply {
	var in struct {
		Title string `json:"title"`
		Head  string `json:"head"`
		Base  string `json:"base"`
		Body  string `json:"body"`
		Draft bool   `json:"draft"`
	}
	if err := q.decode(&in); err != nil {
		return status(http.StatusBadRequest, ghError("Problems parsing JSON", "400"))
	}
	if in.Title == "" {
		return status(http.StatusUnprocessableEntity, validationFailed("PullRequest", "title", "missing_field", ""))
	}
	branch, ownerOK := headBranch(r, in.Head)
	headSHA, err := s.resolveLocked(r, branch)
	if !ownerOK || err != nil {
		return status(http.StatusUnprocessableEntity, validationFailed("PullRequest", "head", "invalid", ""))
	}
	baseSHA, err := s.resolveLocked(r, in.Base)
	if err != nil {
		return status(http.StatusUnprocessableEntity, validationFailed("PullRequest", "base", "invalid", ""))
	}
	for _, p := range r.pulls {
		if p.State == "open" && p.Head == branch && p.Base == in.Base {
			return status(http.StatusUnprocessableEntity, validationFailed("PullRequest", "", "custom",
				fmt.Sprintf("A pull request already exists for %s:%s.", r.opts.Owner, branch)))
		}
	}
	if headSHA == baseSHA {
		return status(http.StatusUnprocessableEntity, validationFailed("PullRequest", "", "custom",
			fmt.Sprintf("No commits between %s and %s", in.Base, branch)))
	}
	r.nextNumber++
	s.nextID++
	now := s.now().UTC().Truncate(time.Second)
	p := &PullRequest{
		Number: r.nextNumber, NodeID: nodeID("PR_", s.nextID), Title: in.Title, Body: in.Body,
		Head: branch, Base: in.Base, HeadSHA: headSHA, BaseSHA: baseSHA, State: "open", Draft: in.Draft,
		User: appBot, Created: now, Updated: now,
	}
	r.pulls[p.Number] = p
	return reply{status: http.StatusCreated, body: s.prJSON(r, p, false),
		headers: map[string]string{"Location": s.api("repos/%s/%s/pulls/%d", r.opts.Owner, r.opts.Name, p.Number)}}
}

func (s *Server) updatePull(q *restRequest, r *repoState) reply {
	p := r.pulls[int(q.intParam("pull_number"))]
	if p == nil {
		return notFound()
	}
	var in struct {
		Title *string `json:"title"`
		Body  *string `json:"body"`
		State *string `json:"state"`
		Base  *string `json:"base"`
	}
	if err := q.decode(&in); err != nil {
		return status(http.StatusBadRequest, ghError("Problems parsing JSON", "400"))
	}
	now := s.now().UTC().Truncate(time.Second)
	if in.Base != nil {
		sha, err := s.resolveLocked(r, *in.Base)
		if err != nil {
			return status(http.StatusUnprocessableEntity, validationFailed("PullRequest", "base", "invalid", ""))
		}
		p.Base, p.BaseSHA = *in.Base, sha
	}
	if in.Title != nil {
		p.Title = *in.Title
	}
	if in.Body != nil {
		p.Body = *in.Body
	}
	if in.State != nil && *in.State != p.State {
		switch {
		case p.Merged:
			return status(http.StatusUnprocessableEntity, validationFailed("PullRequest", "state", "custom", "Cannot change the state of a merged pull request."))
		case *in.State == "closed":
			p.State, p.Closed, p.AutoMerge, p.Queued = "closed", now, nil, false
		default:
			p.State, p.Closed = "open", time.Time{}
		}
	}
	s.refreshHeadLocked(r, p)
	p.Updated = now
	return status(http.StatusOK, s.prJSON(r, p, false))
}

func (s *Server) mergePull(q *restRequest, r *repoState) reply {
	p := r.pulls[int(q.intParam("pull_number"))]
	if p == nil {
		return notFound()
	}
	var in struct {
		CommitTitle   string `json:"commit_title"`
		CommitMessage string `json:"commit_message"`
		SHA           string `json:"sha"`
		MergeMethod   string `json:"merge_method"`
	}
	if err := q.decode(&in); err != nil {
		return status(http.StatusBadRequest, ghError("Problems parsing JSON", "400"))
	}
	notAllowed := func(msg string) reply {
		return status(http.StatusMethodNotAllowed, map[string]any{"message": msg, "documentation_url": docsURL, "status": "405"})
	}
	if p.State != "open" {
		return notAllowed("Pull Request is not mergeable")
	}
	s.refreshHeadLocked(r, p)
	if r.opts.MergeQueue && p.Base == r.opts.DefaultBranch {
		return notAllowed("Changes must be made through the merge queue")
	}
	if in.SHA != "" && in.SHA != p.HeadSHA {
		return status(http.StatusConflict, map[string]any{"message": "Head branch was modified. Review and try the merge again.", "documentation_url": docsURL, "status": "409"})
	}
	if msg := r.blockingCheck(p.HeadSHA); msg != "" && p.Base == r.opts.DefaultBranch {
		return notAllowed(msg)
	}
	if p.Mergeable != nil && !*p.Mergeable || p.Draft {
		return notAllowed("Pull Request is not mergeable")
	}
	if err := s.mergeLocked(r, p, in.MergeMethod, in.CommitTitle, in.CommitMessage); err != nil {
		return notAllowed("Pull Request is not mergeable")
	}
	return status(http.StatusOK, map[string]any{"sha": p.MergeCommitSHA, "merged": true, "message": "Pull Request successfully merged"})
}

func (r *repoState) permissionOf(user string) string {
	if p, ok := r.perms[strings.ToLower(user)]; ok {
		return p
	}
	return "none"
}

func (s *Server) requestReviewers(q *restRequest, r *repoState) reply {
	p := r.pulls[int(q.intParam("pull_number"))]
	if p == nil {
		return notFound()
	}
	var in struct {
		Reviewers []string `json:"reviewers"`
	}
	if err := q.decode(&in); err != nil {
		return status(http.StatusBadRequest, ghError("Problems parsing JSON", "400"))
	}
	for _, u := range in.Reviewers {
		if r.permissionOf(u) == "none" {
			return status(http.StatusUnprocessableEntity, map[string]any{
				"message":           "Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the " + r.opts.Owner + "/" + r.opts.Name + " repository.",
				"documentation_url": docsURL, "status": "422"})
		}
		if strings.EqualFold(u, p.User) {
			return status(http.StatusUnprocessableEntity, map[string]any{
				"message": "Review cannot be requested from pull request author.", "documentation_url": docsURL, "status": "422"})
		}
		if !slices.Contains(p.RequestedReviewers, u) {
			p.RequestedReviewers = append(p.RequestedReviewers, u)
		}
	}
	p.Updated = s.now().UTC().Truncate(time.Second)
	return status(http.StatusCreated, s.prJSON(r, p, true))
}

func (s *Server) addLabels(q *restRequest, r *repoState) reply {
	var names []string
	var list []any
	if bytes.HasPrefix(q.body, []byte("[")) {
		json.Unmarshal(q.body, &list)
	} else {
		var in struct {
			Labels []any `json:"labels"`
		}
		json.Unmarshal(q.body, &in)
		list = in.Labels
	}
	for _, l := range list {
		switch l := l.(type) {
		case string:
			names = append(names, l)
		case map[string]any:
			names = append(names, str(l["name"]))
		}
	}
	n := int(q.intParam("issue_number"))
	var labels *[]string
	if p := r.pulls[n]; p != nil {
		labels = &p.Labels
	} else if i := r.issues[n]; i != nil {
		labels = &i.Labels
	} else {
		return notFound()
	}
	for _, name := range names {
		if !slices.Contains(*labels, name) {
			*labels = append(*labels, name)
		}
	}
	return status(http.StatusOK, s.labelsJSON(r, *labels))
}

func (s *Server) commentJSON(r *repoState, c *Comment) map[string]any {
	full := r.opts.Owner + "/" + r.opts.Name
	return map[string]any{
		"id": c.ID, "node_id": c.NodeID, "body": c.Body, "user": s.userJSON(c.User),
		"url":        s.api("repos/%s/issues/comments/%d", full, c.ID),
		"html_url":   s.web("%s/issues/%d#issuecomment-%d", full, c.Issue, c.ID),
		"issue_url":  s.api("repos/%s/issues/%d", full, c.Issue),
		"created_at": ts(c.Created), "updated_at": ts(c.Created), "author_association": "NONE",
	}
}

func (s *Server) createComment(q *restRequest, r *repoState) reply {
	n := int(q.intParam("issue_number"))
	if r.pulls[n] == nil && r.issues[n] == nil {
		return notFound()
	}
	var in struct {
		Body string `json:"body"`
	}
	if err := q.decode(&in); err != nil {
		return status(http.StatusBadRequest, ghError("Problems parsing JSON", "400"))
	}
	s.nextID++
	c := &Comment{ID: s.nextID, NodeID: nodeID("IC_", s.nextID), Issue: n, Body: in.Body, User: appBot, Created: s.now().UTC().Truncate(time.Second)}
	r.comments = append(r.comments, c)
	return status(http.StatusCreated, s.commentJSON(r, c))
}

func (s *Server) issueJSON(r *repoState, i *Issue) map[string]any {
	full := r.opts.Owner + "/" + r.opts.Name
	u := s.api("repos/%s/issues/%d", full, i.Number)
	return map[string]any{
		"id": smallID("issue", full, strconv.Itoa(i.Number)), "node_id": i.NodeID, "number": i.Number,
		"url": u, "repository_url": s.api("repos/%s", full), "labels_url": u + "/labels{/name}",
		"comments_url": u + "/comments", "events_url": u + "/events", "html_url": s.web("%s/issues/%d", full, i.Number),
		"title": i.Title, "body": nilIfEmpty(i.Body), "state": i.State, "user": s.userJSON(i.User),
		"labels": s.labelsJSON(r, i.Labels), "assignee": nil, "assignees": s.usersJSON(i.Assignees),
		"milestone": nil, "locked": false, "comments": r.commentCount(i.Number),
		"created_at": ts(i.Created), "updated_at": ts(i.Updated), "closed_at": nil, "author_association": "NONE",
	}
}

// pullAsIssueJSON is a pull request as the issues list shows it.
func (s *Server) pullAsIssueJSON(r *repoState, p *PullRequest) map[string]any {
	m := s.issueJSON(r, &Issue{Number: p.Number, NodeID: p.NodeID, Title: p.Title, Body: p.Body, State: p.State,
		Labels: p.Labels, User: p.User, Created: p.Created, Updated: p.Updated})
	m["closed_at"] = ts(p.Closed)
	full := r.opts.Owner + "/" + r.opts.Name
	m["pull_request"] = map[string]any{
		"url": s.api("repos/%s/pulls/%d", full, p.Number), "html_url": s.web("%s/pull/%d", full, p.Number),
		"diff_url": s.web("%s/pull/%d.diff", full, p.Number), "patch_url": s.web("%s/pull/%d.patch", full, p.Number),
		"merged_at": ts(p.MergedAt),
	}
	return m
}

func (s *Server) createIssue(q *restRequest, r *repoState) reply {
	var in struct {
		Title     any      `json:"title"`
		Body      string   `json:"body"`
		Labels    []any    `json:"labels"`
		Assignees []string `json:"assignees"`
	}
	if err := q.decode(&in); err != nil {
		return status(http.StatusBadRequest, ghError("Problems parsing JSON", "400"))
	}
	title := fmt.Sprint(in.Title)
	if in.Title == nil || title == "" {
		return status(http.StatusUnprocessableEntity, validationFailed("Issue", "title", "missing_field", ""))
	}
	var labels []string
	for _, l := range in.Labels {
		switch l := l.(type) {
		case string:
			labels = append(labels, l)
		case map[string]any:
			labels = append(labels, str(l["name"]))
		}
	}
	r.nextNumber++
	s.nextID++
	now := s.now().UTC().Truncate(time.Second)
	i := &Issue{Number: r.nextNumber, NodeID: nodeID("I_", s.nextID), Title: title, Body: in.Body, State: "open",
		Labels: labels, Assignees: in.Assignees, User: appBot, Created: now, Updated: now}
	r.issues[i.Number] = i
	return status(http.StatusCreated, s.issueJSON(r, i))
}

func (s *Server) listIssues(q *restRequest, r *repoState) reply {
	state := q.query.Get("state")
	if state == "" {
		state = "open"
	}
	var want []string
	if l := q.query.Get("labels"); l != "" {
		want = strings.Split(l, ",")
	}
	creator := q.query.Get("creator")
	match := func(st string, labels []string, user string) bool {
		if state != "all" && st != state {
			return false
		}
		if creator != "" && !strings.EqualFold(creator, user) {
			return false
		}
		for _, w := range want {
			if !slices.Contains(labels, w) {
				return false
			}
		}
		return true
	}
	numbers := make([]int, 0)
	for n := range r.issues {
		numbers = append(numbers, n)
	}
	for n := range r.pulls {
		numbers = append(numbers, n)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(numbers)))
	if q.query.Get("direction") == "asc" {
		slices.Reverse(numbers)
	}
	var items []any
	for _, n := range numbers {
		if i := r.issues[n]; i != nil && match(i.State, i.Labels, i.User) {
			items = append(items, s.issueJSON(r, i))
		}
		if p := r.pulls[n]; p != nil && match(p.State, p.Labels, p.User) {
			items = append(items, s.pullAsIssueJSON(r, p))
		}
	}
	page, headers := s.paginate(q, items)
	return reply{status: http.StatusOK, body: page, headers: headers}
}

func (s *Server) createReaction(q *restRequest, r *repoState) reply {
	id := q.intParam("comment_id")
	var c *Comment
	for _, cm := range r.comments {
		if cm.ID == id {
			c = cm
		}
	}
	if c == nil {
		return notFound()
	}
	var in struct {
		Content string `json:"content"`
	}
	if err := q.decode(&in); err != nil {
		return status(http.StatusBadRequest, ghError("Problems parsing JSON", "400"))
	}
	code := http.StatusCreated
	var rc *Reaction
	for i := range c.Reactions {
		if c.Reactions[i].Content == in.Content && c.Reactions[i].User == appBot {
			rc, code = &c.Reactions[i], http.StatusOK
		}
	}
	if rc == nil {
		s.nextID++
		c.Reactions = append(c.Reactions, Reaction{ID: s.nextID, Content: in.Content, User: appBot})
		rc = &c.Reactions[len(c.Reactions)-1]
	}
	return status(code, map[string]any{"id": rc.ID, "node_id": nodeID("REA_", rc.ID), "user": s.userJSON(rc.User),
		"content": rc.Content, "created_at": ts(s.now())})
}

func (s *Server) checkRunJSON(r *repoState, c *CheckRun) map[string]any {
	full := r.opts.Owner + "/" + r.opts.Name
	var conclusion any
	if c.Conclusion != "" {
		conclusion = c.Conclusion
	}
	return map[string]any{
		"id": c.ID, "node_id": c.NodeID, "name": c.Name, "head_sha": c.HeadSHA, "status": c.Status,
		"conclusion": conclusion, "external_id": nilIfEmpty(c.ExternalID), "details_url": nilIfEmpty(c.DetailsURL),
		"url": s.api("repos/%s/check-runs/%d", full, c.ID), "html_url": s.web("%s/runs/%d", full, c.ID),
		"started_at": ts(c.Started), "completed_at": ts(c.Completed),
		"output": map[string]any{"title": nilIfEmpty(c.Output.Title), "summary": nilIfEmpty(c.Output.Summary),
			"text": nilIfEmpty(c.Output.Text), "annotations_count": 0,
			"annotations_url": s.api("repos/%s/check-runs/%d/annotations", full, c.ID)},
		"check_suite": map[string]any{"id": smallID("suite", full, c.HeadSHA)},
		"app":         s.appJSON(), "pull_requests": []any{},
	}
}

func (s *Server) appJSON() map[string]any {
	return map[string]any{
		"id": s.appID, "slug": "medic-test", "node_id": nodeID("A_", s.appID), "name": "medic-test",
		"owner": s.userJSON("medic-bot"), "description": nil,
		"external_url": s.web("medic-bot"), "html_url": s.web("apps/medic-test"),
		"permissions": appPermissions(), "events": []any{},
	}
}

type checkRunInput struct {
	Name        *string `json:"name"`
	HeadSHA     string  `json:"head_sha"`
	Status      *string `json:"status"`
	Conclusion  *string `json:"conclusion"`
	DetailsURL  *string `json:"details_url"`
	ExternalID  *string `json:"external_id"`
	StartedAt   *string `json:"started_at"`
	CompletedAt *string `json:"completed_at"`
	Output      *struct {
		Title   string `json:"title"`
		Summary string `json:"summary"`
		Text    string `json:"text"`
	} `json:"output"`
}

func (s *Server) applyCheckRun(c *CheckRun, in checkRunInput) {
	now := s.now().UTC().Truncate(time.Second)
	if in.Name != nil {
		c.Name = *in.Name
	}
	if in.Status != nil {
		c.Status = *in.Status
	}
	if in.Conclusion != nil {
		c.Conclusion, c.Status = *in.Conclusion, "completed"
	}
	if in.DetailsURL != nil {
		c.DetailsURL = *in.DetailsURL
	}
	if in.ExternalID != nil {
		c.ExternalID = *in.ExternalID
	}
	if in.StartedAt != nil {
		if t, err := time.Parse(time.RFC3339, *in.StartedAt); err == nil {
			c.Started = t
		}
	}
	if in.Output != nil {
		c.Output = CheckRunOutput{Title: in.Output.Title, Summary: in.Output.Summary, Text: in.Output.Text}
	}
	if c.Status == "completed" && c.Completed.IsZero() {
		c.Completed = now
		if in.CompletedAt != nil {
			if t, err := time.Parse(time.RFC3339, *in.CompletedAt); err == nil {
				c.Completed = t
			}
		}
	}
	if c.Started.IsZero() {
		c.Started = now
	}
}

var shaRe = regexp.MustCompile(`^[0-9a-f]{40}$`)

func (s *Server) createCheckRun(q *restRequest, r *repoState) reply {
	var in checkRunInput
	if err := q.decode(&in); err != nil {
		return status(http.StatusBadRequest, ghError("Problems parsing JSON", "400"))
	}
	if !shaRe.MatchString(in.HeadSHA) {
		return status(http.StatusUnprocessableEntity, validationFailed("CheckRun", "head_sha", "invalid", ""))
	}
	if in.Conclusion == nil && in.Status != nil && *in.Status == "completed" {
		return status(http.StatusUnprocessableEntity, validationFailed("CheckRun", "conclusion", "missing_field", ""))
	}
	s.nextID++
	c := &CheckRun{ID: s.nextID, NodeID: nodeID("CR_", s.nextID), HeadSHA: in.HeadSHA, Status: "queued"}
	s.applyCheckRun(c, in)
	r.checkRuns = append(r.checkRuns, c)
	s.autoMergeLocked(r)
	return status(http.StatusCreated, s.checkRunJSON(r, c))
}

func (s *Server) updateCheckRun(q *restRequest, r *repoState) reply {
	id := q.intParam("check_run_id")
	var c *CheckRun
	for _, cr := range r.checkRuns {
		if cr.ID == id {
			c = cr
		}
	}
	if c == nil {
		return notFound()
	}
	var in checkRunInput
	if err := q.decode(&in); err != nil {
		return status(http.StatusBadRequest, ghError("Problems parsing JSON", "400"))
	}
	s.applyCheckRun(c, in)
	s.autoMergeLocked(r)
	return status(http.StatusOK, s.checkRunJSON(r, c))
}

// commitOf resolves a commits/{ref} parameter: a sha, or a branch.
func (s *Server) commitOf(r *repoState, ref string) (string, bool) {
	if shaRe.MatchString(ref) {
		return ref, true
	}
	ref = strings.TrimPrefix(strings.TrimPrefix(ref, "refs/"), "heads/")
	sha, err := s.resolveLocked(r, ref)
	return sha, err == nil
}

func (s *Server) listCheckRuns(q *restRequest, r *repoState) reply {
	sha, ok := s.commitOf(r, q.params["ref"])
	if !ok {
		return status(http.StatusUnprocessableEntity, ghError("No commit found for SHA: "+q.params["ref"], "422"))
	}
	var items []any
	for _, c := range r.checkRuns {
		if c.HeadSHA != sha {
			continue
		}
		if n := q.query.Get("check_name"); n != "" && n != c.Name {
			continue
		}
		if st := q.query.Get("status"); st != "" && st != c.Status {
			continue
		}
		items = append(items, s.checkRunJSON(r, c))
	}
	page, headers := s.paginate(q, items)
	return reply{status: http.StatusOK, body: map[string]any{"total_count": len(items), "check_runs": page}, headers: headers}
}

func (s *Server) combinedStatus(q *restRequest, r *repoState) reply {
	sha, ok := s.commitOf(r, q.params["ref"])
	if !ok {
		return status(http.StatusUnprocessableEntity, ghError("No commit found for SHA: "+q.params["ref"], "422"))
	}
	full := r.opts.Owner + "/" + r.opts.Name
	// The latest status per context, in order of first appearance.
	latest := map[string]*Status{}
	var contexts []string
	for _, st := range r.statuses[sha] {
		if latest[st.Context] == nil {
			contexts = append(contexts, st.Context)
		}
		latest[st.Context] = st
	}
	state := "success"
	if len(contexts) == 0 {
		state = "pending"
	}
	items := []any{}
	for _, c := range contexts {
		st := latest[c]
		switch {
		case st.State == "failure" || st.State == "error":
			state = "failure"
		case st.State == "pending" && state != "failure":
			state = "pending"
		}
		items = append(items, map[string]any{
			"id": st.ID, "node_id": nodeID("SC_", st.ID), "url": s.api("repos/%s/statuses/%s", full, sha),
			"context": st.Context, "state": st.State, "description": nilIfEmpty(st.Description),
			"target_url": nilIfEmpty(st.TargetURL), "avatar_url": nil, "required": slices.Contains(r.opts.RequiredChecks, st.Context),
			"created_at": ts(st.Created), "updated_at": ts(st.Created),
		})
	}
	repo := s.repoJSON(r)
	return status(http.StatusOK, map[string]any{
		"state": state, "sha": sha, "total_count": len(items), "statuses": items, "repository": repo,
		"commit_url": s.api("repos/%s/commits/%s", full, sha), "url": s.api("repos/%s/commits/%s/status", full, sha),
	})
}

func (s *Server) permission(q *restRequest, r *repoState) reply {
	user := q.params["username"]
	perm := r.permissionOf(user)
	// The REST permission field folds maintain into write and triage into read.
	legacy := map[string]string{"admin": "admin", "maintain": "write", "write": "write", "triage": "read", "read": "read"}[perm]
	if legacy == "" {
		legacy = "none"
	}
	u := s.userJSON(user)
	u["permissions"] = map[string]any{
		"admin": perm == "admin", "maintain": perm == "admin" || perm == "maintain",
		"push": legacy == "write" || legacy == "admin", "triage": legacy != "none" && perm != "read", "pull": legacy != "none",
	}
	u["role_name"] = perm
	return status(http.StatusOK, map[string]any{"permission": legacy, "role_name": perm, "user": u})
}

func (s *Server) deleteRef(q *restRequest, r *repoState) reply {
	ref := strings.TrimPrefix(q.params["ref"], "refs/")
	branch, isBranch := strings.CutPrefix(ref, "heads/")
	if !isBranch {
		return status(http.StatusUnprocessableEntity, ghError("Reference does not exist", "422"))
	}
	if branch == r.opts.DefaultBranch {
		return status(http.StatusUnprocessableEntity, ghError("Cannot delete the default branch", "422"))
	}
	if _, err := s.resolveLocked(r, branch); err != nil {
		return status(http.StatusUnprocessableEntity, ghError("Reference does not exist", "422"))
	}
	if s.refDeleter != nil {
		if err := s.refDeleter(r.opts.Owner, r.opts.Name, ref); err != nil {
			return status(http.StatusUnprocessableEntity, ghError("Reference does not exist", "422"))
		}
	}
	delete(r.refs, branch)
	r.deleted = append(r.deleted, ref)
	// GitHub closes the open pull requests of a deleted head branch.
	now := s.now().UTC().Truncate(time.Second)
	for _, p := range r.pulls {
		if p.State == "open" && p.Head == branch {
			p.State, p.Closed, p.Updated, p.AutoMerge, p.Queued = "closed", now, now, nil, false
		}
	}
	return reply{status: http.StatusNoContent}
}

// Package githubtest is a GitHub API test double for medic's GitHub App
// forge: an httptest.Server laid out like GitHub Enterprise Server (REST
// under URL()/api/v3/, GraphQL at URL()/api/graphql) that answers from a
// small per-test state and checks every exchange against GitHub's own API
// description, so that no hand-typed JSON can drift from the real API.
//
// # Use
//
//	s := githubtest.New(t)
//	s.AddRepo(githubtest.RepoOptions{Owner: "acme", Name: "infra", RequiredChecks: []string{"ci"}})
//	s.SetRef("acme", "infra", "medic/inc-1-scale", sha) // or WithRefResolver(gitServer.Resolve)
//	itr, _ := ghinstallation.New(http.DefaultTransport, s.AppID(), s.Installation("acme", "infra"), s.PrivateKeyPEM())
//	itr.BaseURL = strings.TrimSuffix(s.RESTURL(), "/")
//	client, _ := github.NewClient(&http.Client{Transport: itr}).WithEnterpriseURLs(s.RESTURL(), s.RESTURL())
//	... code under test ...
//	s.CompleteCheck("acme", "infra", sha, "ci", "success")
//	pr, _ := s.PR("acme", "infra", 1)
//
// Anything the double finds wrong (an unknown route, an invalid request, a
// response of its own that does not match the schema, an invalid GraphQL
// operation) is recorded, returned by Errors and reported with t.Errorf
// when the test ends.
//
// # Validation
//
// testdata/openapi-subset.json holds the operations medic calls, with
// every component they reference, taken from GitHub's description
// (testdata/api.github.com.json.gz, API version 2022-11-28);
// TestSubsetUpToDate re-derives it and fails on a difference (go test
// -run TestSubsetUpToDate -update rewrites it). Requests are routed by
// its paths; path, query and header parameters, X-GitHub-Api-Version and
// JSON bodies are validated against it, and so is every response body and
// status the double sends. Schemas are validated as JSON Schema 2020-12
// with formats asserted (github.com/santhosh-tekuri/jsonschema/v6, the
// module's JSON Schema validator; kin-openapi could not be used because
// its go.yaml.in/yaml/v4 dependency is missing from go.sum).
// TestDescriptionExamples checks the validator against GitHub's own
// response examples.
//
// Responses are built as maps from the state and completed from the
// schema: required properties the state does not set get the schema's
// zero (null when nullable, the first enum value, a valid URL or time for
// formatted strings), then the result is validated like any other.
//
// # Known mismatches (the exception list)
//
//   - Path parameters with slashes: contents/{path}, git/refs/{ref},
//     commits/{ref}/check-runs and commits/{ref}/status match one or more
//     segments, since clients send file paths and refs with their slashes
//     unescaped (go-github escapes each segment) and GitHub accepts them.
//     Other parameters match one segment (greedyParams).
//   - go-github and ghinstallation send the body "null" when creating an
//     installation token without options; it counts as no body
//     (nullBodyOK).
//   - Adding labels: go-github sends a bare JSON array, which the
//     description allows in prose but not in its schema; a bare array is
//     validated as {"labels": [...]} (bareArrayBody).
//   - GitHub answers 401, 403, 404, 422, 429 and 5xx on operations whose
//     description does not list them; such bodies, and error statuses
//     without a schema, must be GitHub's basic-error shape.
//   - Some of GitHub's response examples fail its own schemas
//     (knownBadExamples in examples_test.go: repository without language,
//     teams without type, a collaborator without role_name).
//   - Webhook examples (testdata/webhooks, octokit/webhooks) are served as
//     they are; several fail GitHub's x-webhooks schemas (push and some
//     pull_request lack repository.has_discussions, status lacks
//     verified_at, installation has numeric created_at, check_run
//     rerequested has an odd app.created_at). Handlers must tolerate both.
//
// # Behaviour
//
// Authentication: POST /app/installations/{id}/access_tokens and GET
// /repos/{owner}/{repo}/installation take the App's JWT (RS256 with the
// App key, iss the App id as a string or number, exp in the future and at
// most ten minutes ahead); tokens are "ghs_" and random and expire after
// WithTokenLifetime (one hour by default). Every other call takes
// "token X" or "Bearer X" with a live installation token: without one it
// is 401 with GitHub's body. As on GitHub, a token of an installation
// that does not have the repository gets 404 for a private repository
// and, for a public one, can read but gets 403 "Resource not accessible by
// integration" when it writes.
//
// Pull requests and issues share numbers per repository. Creating a pull
// request resolves head and base (WithRefResolver, or SetRef): an unknown
// head is 422 Validation Failed on field head. PUT merge answers 405
// "Changes must be made through the merge queue" on a merge-queue branch,
// 405 "Required status check \"X\" is expected." while a required check
// (a check run or a commit status of that name) has not passed, 405 "Pull
// Request is not mergeable" for a closed pull request or when the merger
// fails, 409 when sha is not the head; otherwise it merges through
// WithMerger (or makes up a commit).
//
// Every REST response carries X-RateLimit-Limit, -Remaining, -Reset,
// -Used and -Resource. FailNext injects failures for retry logic; a
// message mentioning a secondary rate limit gets the documentation_url
// that clients recognise.
//
// # GraphQL
//
// GraphQL is not in the OpenAPI description; it is checked by hand
// (graphql.go): the document must parse, use only the supported root
// fields, declare variables with GitHub's types and the right
// nullability, pass values of those types (mergeMethod one of MERGE,
// SQUASH, REBASE) and select only fields the double knows. Supported:
// enablePullRequestAutoMerge, disablePullRequestAutoMerge,
// enqueuePullRequest, dequeuePullRequest, node(id:) on a PullRequest
// (autoMergeRequest, mergeQueueEntry, state, mergeCommit, ...), and
// repository(owner:, name:) { pullRequest(number:) }. GitHub's answers
// keep its shapes: {"data": {...}}, and for a refused mutation
// {"data": {"<field>": null}, "errors": [{"type": "UNPROCESSABLE", "path":
// ["<field>"], "message": ...}]} with GitHub's messages: "Pull request
// Auto merge is not allowed for this repository", "Pull request Pull
// request is in clean status" (auto-merge on a pull request that can
// merge now), and on a merge-queue branch "Changes must be made through
// the merge queue" (use enqueuePullRequest). A pull request with auto-merge
// enabled or in the queue is merged by the double, through the merger,
// once its required checks pass (CompleteCheck, SetStatus, or check runs
// created through the API).
//
// # Webhooks
//
// Payload reads an example delivery from testdata/webhooks; Sign computes
// X-Hub-Signature-256; Delivery builds the request GitHub would send.
package githubtest

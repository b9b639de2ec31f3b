// Package githubtest is a GitHub REST and GraphQL API test double for
// medic's GitHub App forge.
package githubtest

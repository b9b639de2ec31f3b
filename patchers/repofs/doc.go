// Package repofs gives read-only views of an infra repository that never
// leave its root, whatever its symbolic links say.
//
// One rule holds for a repository on disk (OpenDir) and for a git tree
// (history.TreeFS builds on Confine): a symbolic link is followed only
// while it stays inside the root. A link with an absolute target, one
// whose ".." climbs above the root, directly or through other links, and
// a chain of more than MaxLinks links are errors naming the file that was
// asked for and the link that left; the target is never opened, so its
// content cannot reach a render, a diff, a policy input or a log. Links
// that stay inside are followed, so that the CLI (on disk) and the bot
// (on a git tree) render the same repository the same way.
package repofs

// Package history carries out the intents that read a repository's git
// history: rollback_image with previous: true (roll back to the image the
// target ran before the last commit that changed it) and revert_commit
// (undo one commit's diff on the current files, refusing on a conflict).
//
// Wrap adds both to any patcher that implements patchers.TargetRenderer;
// the commits are read with go-git, and each older commit is rendered
// through an fs.FS over its tree (TreeFS).
package history

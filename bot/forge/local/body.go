package local

import "github.com/medic-bot/medic/bot/forge"

// renderBody is the pull request description: the same Markdown the
// GitHub forge posts.
var renderBody = forge.Body

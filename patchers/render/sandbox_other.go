//go:build !linux

package render

import (
	"os"
	"os/exec"
)

func selfExe() (string, error) { return os.Executable() }

func setChildAttrs(*exec.Cmd) {}

// limitAddressSpace is Linux-only; elsewhere the watchdog alone bounds
// memory.
func limitAddressSpace(int64) {}

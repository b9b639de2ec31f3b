package render

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// selfExe is the running binary, even when its file was replaced since.
func selfExe() (string, error) { return "/proc/self/exe", nil }

// setChildAttrs makes the child die with the parent.
func setChildAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// limitAddressSpace caps the child's address space at what it maps now
// plus twice memory, so that one allocation far past the limit fails at
// once instead of being written page by page. Race builds map terabytes of
// shadow memory and are left to the watchdog.
func limitAddressSpace(memory int64) {
	if raceEnabled {
		return
	}
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return
	}
	pages, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return
	}
	as := uint64(pages*int64(os.Getpagesize()) + 2*memory + 256<<20)
	_ = syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: as, Max: as})
}

// Command medic is the GitOps remediation bot: it receives OpenTelemetry
// data, detects unhealthy Kubernetes workloads and (as the loop grows)
// proposes, gates, opens and verifies healing pull requests.
//
// This package owns flags, signals and exit codes and nothing else: the
// work is done by bot/app and the stage packages. Exit status is 0 on
// success, 1 when a command ran and the answer is "no", 2 for usage or input
// errors.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitOK    = 0
	exitNo    = 1
	exitUsage = 2
)

// usageError marks errors that are the caller's: bad flags, bad input files.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// noError is returned when a command ran and its answer is "no".
type noError struct{ msg string }

func (e noError) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "medic:", err)
	var no noError
	if errors.As(err, &no) {
		return exitNo
	}
	return exitUsage
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "medic",
		Short:         "medic heals Kubernetes workloads through pull requests",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newServe(), newVersion(), newDemo(), newPatch(), newPolicy(), newDetect())
	return root
}

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/medic-bot/medic/patchers/repofs"
	"github.com/medic-bot/medic/policy"
)

// newPolicy is `medic policy test [DIR]` and `medic policy eval [--policy
// DIR] --input FILE.json`, what users run in their own CI.
func newPolicy() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Test and evaluate medic's Rego policies",
	}
	cmd.AddCommand(newPolicyTest(), newPolicyEval())
	return cmd
}

// loadPolicy returns the embedded default bundle, or the repo policy folder
// dir combined with it as the gate would.
func loadPolicy(dir string) (policy.Bundle, error) {
	if dir == "" {
		return policy.Default(), nil
	}
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return policy.Bundle{}, fmt.Errorf("policy folder %s is not a folder", dir)
	}
	d, err := repofs.OpenDir(dir)
	if err != nil {
		return policy.Bundle{}, fmt.Errorf("policy folder %s: %w", dir, err)
	}
	defer d.Close()
	b, err := policy.LoadDir(d.FS(), ".")
	if err != nil {
		return policy.Bundle{}, fmt.Errorf("policy folder %s: %w", dir, err)
	}
	return policy.ForRepo(b), nil
}

// newPolicyTest runs the Rego unit tests of DIR (default: the embedded
// bundle) and prints PASS/FAIL per test. Exit 1 when a test fails or none
// ran, 2 when the folder does not load or compile.
func newPolicyTest() *cobra.Command {
	return &cobra.Command{
		Use:   "test [DIR]",
		Short: "Run the Rego unit tests of a policy folder (default: the embedded bundle)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := ""
			if len(args) == 1 {
				dir = args[0]
			}
			b, err := loadPolicy(dir)
			if err != nil {
				return usageError{err}
			}
			res, err := policy.RunTests(cmd.Context(), b)
			if err != nil {
				return usageError{err}
			}
			out := cmd.OutOrStdout()
			failed := 0
			for _, r := range res {
				switch {
				case r.Pass:
					fmt.Fprintf(out, "PASS %s (%s)\n", r.Name, r.Location)
				case r.Err != nil:
					failed++
					fmt.Fprintf(out, "FAIL %s (%s): %v\n", r.Name, r.Location, r.Err)
				default:
					failed++
					fmt.Fprintf(out, "FAIL %s (%s)\n", r.Name, r.Location)
				}
			}
			fmt.Fprintf(out, "%d passed, %d failed\n", len(res)-failed, failed)
			switch {
			case len(res) == 0:
				return noError{"policy test: no tests found"}
			case failed > 0:
				return noError{fmt.Sprintf("policy test: %d of %d tests failed", failed, len(res))}
			}
			return nil
		},
	}
}

// newPolicyEval prints the decision for an input document. The decision
// is the answer, so exit 0 whatever it says; 2 for an invalid input or a
// policy folder that does not compile (naming file:line).
func newPolicyEval() *cobra.Command {
	var dir, inputFile string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "eval [--policy DIR] --input FILE.json [--timeout D]",
		Short: "Print the policy decision for an input document",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if inputFile == "" {
				return usageError{errors.New("policy eval: --input is required")}
			}
			raw, err := os.ReadFile(inputFile)
			if err != nil {
				return usageError{fmt.Errorf("read input: %w", err)}
			}
			in, err := policy.ParseInput(raw)
			if err != nil {
				return usageError{fmt.Errorf("%s: %w", filepath.Base(inputFile), err)}
			}
			b, err := loadPolicy(dir)
			if err != nil {
				return usageError{err}
			}
			g, err := policy.NewGate(cmd.Context(), b, policy.Options{Timeout: timeout})
			if err != nil {
				return usageError{err}
			}
			d, err := g.Decide(cmd.Context(), in)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(d)
		},
	}
	cmd.Flags().StringVar(&dir, "policy", "", "policy folder (default: the embedded bundle, extended or replaced by DIR)")
	cmd.Flags().StringVar(&inputFile, "input", "", "input document (JSON)")
	cmd.Flags().DurationVar(&timeout, "timeout", policy.DefaultTimeout, "bound on one evaluation; past it the decision fails closed")
	return cmd
}

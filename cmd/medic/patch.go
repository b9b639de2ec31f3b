package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/spf13/cobra"

	"github.com/medic-bot/medic/bot/app"
	"github.com/medic-bot/medic/bot/forge/github"
	"github.com/medic-bot/medic/patchers"
	"github.com/medic-bot/medic/patchers/history"
	"github.com/medic-bot/medic/patchers/registry"
	"github.com/medic-bot/medic/patchers/repofs"
)

// pickPatcher picks the patcher for a repository; tests replace it.
var pickPatcher = registry.ForLimits

// newPatch is `medic patch --repo DIR --intent FILE.json [--json] [--write]`:
// plan an intent on an infra repo, print the Change, and write the edited
// files only with --write. Exit 0 with a plan (or a no-op), 1 when the
// patcher refused its own plan on verification, 2 for bad input (an
// invalid intent, a target that is not found, invalid YAML).
func newPatch() *cobra.Command {
	var repoDir, intentFile, configPath string
	var asJSON, write, pr bool
	var pro prOptions
	cmd := &cobra.Command{
		Use:   "patch --repo DIR --intent FILE.json [--json] [--write | --pr [--dry-run]]",
		Short: "Plan an intent as a change to an infra repo (and write it with --write)",
		Long:  "Plan an intent as a change to an infra repo (and write it with --write).\n\nIntent kinds:\n" + kindsHelp(),
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if repoDir == "" || intentFile == "" {
				return usageError{errors.New("patch: --repo and --intent are required")}
			}
			b, err := os.ReadFile(intentFile)
			if err != nil {
				return usageError{fmt.Errorf("read intent: %w", err)}
			}
			in, err := patchers.ParseIntent(b)
			if err != nil {
				return usageError{err}
			}
			if info, err := os.Stat(repoDir); err != nil || !info.IsDir() {
				return usageError{fmt.Errorf("--repo %s is not a folder", repoDir)}
			}
			cfg, err := app.LoadConfig(configPath)
			if err != nil {
				return usageError{err}
			}
			pro.limits = cfg.Render
			if pr && (write || asJSON) {
				return usageError{errors.New("patch: --pr cannot be combined with --write or --json")}
			}
			if pro.dryRun && !pr {
				return usageError{errors.New("patch: --dry-run goes with --pr (without --pr nothing is written anyway)")}
			}
			if pr {
				env, how, err := prEnvironment(cmd.Context(), repoDir, in, pro)
				if err != nil {
					return usageError{err}
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "environment: %s\n", how)
				pro.environment = env
				return proposeLocal(cmd, repoDir, in, pro)
			}
			dir, err := repofs.OpenDir(repoDir)
			if err != nil {
				return usageError{err}
			}
			defer dir.Close()
			repo := dir.FS()
			p, err := pickPatcher(repo, ".", pro.limits)
			if err != nil {
				return usageError{err}
			}
			if p, err = withHistory(p, repoDir, in); err != nil {
				return usageError{err}
			}
			ch, err := p.Plan(cmd.Context(), repo, in)
			if err != nil {
				if errors.Is(err, history.ErrNoPrevious) {
					return noError{err.Error()}
				}
				if errors.Is(err, patchers.ErrRefused) {
					return noError{fmt.Sprintf("%s patcher refused the plan: %v", p.Name(), err)}
				}
				return usageError{fmt.Errorf("%s patcher: %w", p.Name(), err)}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(ch); err != nil {
					return err
				}
			} else {
				printChange(out, p.Name(), ch)
			}
			if ch.NoOp {
				return nil
			}
			note := cmd.OutOrStdout()
			if asJSON {
				note = cmd.ErrOrStderr()
			}
			if !write {
				if !asJSON {
					fmt.Fprintln(note, "dry run: nothing written (pass --write to apply)")
				}
				return nil
			}
			if err := writeFiles(repoDir, ch.Files); err != nil {
				return fmt.Errorf("write: %w", err)
			}
			var wrote, deleted []string
			for _, f := range ch.Files {
				if f.Deleted {
					deleted = append(deleted, f.Path)
				} else {
					wrote = append(wrote, f.Path)
				}
			}
			var done []string
			if len(wrote) > 0 {
				done = append(done, "wrote "+strings.Join(wrote, ", "))
			}
			if len(deleted) > 0 {
				done = append(done, "deleted "+strings.Join(deleted, ", "))
			}
			fmt.Fprintln(note, strings.Join(done, "; "))
			return nil
		},
	}
	cmd.Flags().StringVar(&repoDir, "repo", "", "the infra repository's folder")
	cmd.Flags().StringVar(&intentFile, "intent", "", `the intent, a JSON file: {"kind", "target": {"namespace", "kind", "name", "container"}, "params"}`)
	cmd.Flags().StringVar(&configPath, "config", "", "medic.yaml, for its render: limits (default: embedded defaults)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the Change as JSON (the policy input's change)")
	cmd.Flags().BoolVar(&write, "write", false, "write the edited files into --repo")
	cmd.Flags().BoolVar(&pr, "pr", false, "open the change as a pull request on the local git forge (a branch in --repo), merging it when the policy allows")
	pro.flags(cmd)
	return cmd
}

// prEnvironment is the environment the policy decides --pr for, and a
// sentence saying where it came from: --environment when given; else the
// .medic.yaml environment (at the committed HEAD, which the pull request
// is planned on) whose globs match the folder the target renders from
// (the overlay, the Helm values environment, the manifests' folder) or a
// file directly in it. Without a config, environments or a single match
// it is "", which the policy counts as production. An unreadable or
// invalid .medic.yaml is an error: the repository's own word on its
// environments cannot be guessed.
func prEnvironment(ctx context.Context, repoDir string, in patchers.Intent, o prOptions) (env, how string, err error) {
	flag := o.environment
	if flag != "" {
		return flag, flag + " (--environment)", nil
	}
	const dflt = `none, which the policy counts as production`
	gr, err := git.PlainOpen(repoDir)
	if err != nil {
		return "", dflt + " (--environment not given)", nil // proposeLocal says what is wrong
	}
	head, err := gr.Head()
	if err != nil {
		return "", dflt + " (--environment not given)", nil
	}
	c, err := gr.CommitObject(head.Hash())
	if err != nil {
		return "", "", fmt.Errorf("read HEAD: %w", err)
	}
	tree, err := c.Tree()
	if err != nil {
		return "", "", fmt.Errorf("read HEAD: %w", err)
	}
	view := history.TreeFS(tree)
	data, err := fs.ReadFile(view, github.ConfigFile)
	if errors.Is(err, fs.ErrNotExist) {
		return "", dflt + " (--environment not given and HEAD has no " + github.ConfigFile + ")", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("read %s: %w", github.ConfigFile, err)
	}
	cfg, err := github.ParseRepoConfig(data)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", github.ConfigFile, err)
	}
	if len(cfg.Environments) == 0 {
		return "", dflt + " (--environment not given and " + github.ConfigFile + " lists no environments)", nil
	}
	p, err := pickPatcher(view, ".", o.limits)
	if err != nil {
		return "", "", err
	}
	tr, ok := p.(patchers.TargetRenderer)
	if !ok {
		return "", dflt + " (--environment not given and the " + p.Name() + " patcher cannot tell the target's folder)", nil
	}
	dir, _, err := tr.RenderTarget(ctx, view, in.Target)
	if err != nil {
		return "", dflt + " (--environment not given and the target's folder was not found)", nil
	}
	names := envsOf(cfg, view, dir)
	switch len(names) {
	case 0:
		return "", fmt.Sprintf("%s (--environment not given and no %s environment matches %s)", dflt, github.ConfigFile, dir), nil
	case 1:
		return names[0], fmt.Sprintf("%s (%s: the target renders from %s)", names[0], github.ConfigFile, dir), nil
	}
	return "", fmt.Sprintf("%s (--environment not given and %s matches several %s environments: %s)", dflt, dir, github.ConfigFile, strings.Join(names, ", ")), nil
}

// envsOf lists, sorted, the environments of cfg matching the folder dir
// or a file directly in it.
func envsOf(cfg github.RepoConfig, repo fs.FS, dir string) []string {
	seen := map[string]bool{}
	paths := []string{dir}
	if ents, err := fs.ReadDir(repo, dir); err == nil {
		for _, e := range ents {
			if !e.IsDir() {
				paths = append(paths, path.Join(dir, e.Name()))
			}
		}
	}
	var out []string
	for _, p := range paths {
		if name, ok := cfg.EnvironmentFor(p); ok && !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// withHistory wraps p with the git-history intents when repoDir is inside
// a git repository. Outside one, an intent that needs history is an error.
func withHistory(p patchers.Patcher, repoDir string, in patchers.Intent) (patchers.Patcher, error) {
	gr, err := git.PlainOpenWithOptions(repoDir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		if in.NeedsHistory() {
			return nil, fmt.Errorf("%s needs the repository's git history, and --repo %s is not in a git repository: %w", in.Kind, repoDir, err)
		}
		return p, nil
	}
	dir := "."
	if wt, err := gr.Worktree(); err == nil {
		root, err1 := realPath(wt.Filesystem.Root())
		abs, err2 := realPath(repoDir)
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		rel, err := filepath.Rel(root, abs)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return nil, fmt.Errorf("--repo %s is outside its git work tree %s", repoDir, root)
		}
		dir = filepath.ToSlash(rel)
	}
	return history.WrapDir(p, gr, dir), nil
}

// realPath is p absolute, with symbolic links resolved.
func realPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

func printChange(w io.Writer, patcher string, ch patchers.Change) {
	fmt.Fprintf(w, "%s\npatcher: %s\n", ch.Summary, patcher)
	if ch.NoOp {
		return
	}
	for _, f := range ch.Files {
		fmt.Fprintf(w, "\n%s", f.Diff)
	}
	fmt.Fprintf(w, "\nrendered manifests, before -> after:\n%s", ch.RenderedDiff)
	fmt.Fprintln(w, "\nchanged objects:")
	for _, o := range ch.ChangedObjects {
		ns := o.Namespace
		if ns == "" {
			ns = "-"
		}
		fmt.Fprintf(w, "  %s %s %s/%s\n", o.APIVersion, o.Kind, ns, o.Name)
	}
}

// writeFiles writes every file of the change into dir, or none: each is
// written to a temporary file beside it first, and renamed over the
// original only once all are written. A failed rename puts back the files
// already renamed. A Deleted file is removed in the same step (and put
// back on failure). Writes go through os.Root, so no path of the change can
// leave dir.
func writeFiles(dir string, files []patchers.FileChange) (err error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	type staged struct {
		path, tmp string
		orig      []byte
		existed   bool
	}
	var st []staged
	defer func() {
		if err != nil {
			for _, s := range st {
				if s.tmp != "" {
					_ = root.Remove(s.tmp)
				}
			}
		}
	}()
	for _, f := range files {
		if !fs.ValidPath(f.Path) || f.Path == "." {
			return fmt.Errorf("%q is not a path inside the repository", f.Path)
		}
		mode := fs.FileMode(0o644)
		s := staged{path: f.Path}
		if info, err := root.Stat(f.Path); err == nil {
			mode = info.Mode().Perm()
			if s.orig, err = root.ReadFile(f.Path); err != nil {
				return err
			}
			s.existed = true
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if f.Deleted {
			if s.existed {
				st = append(st, s)
			}
			continue
		}
		var rnd [6]byte
		_, _ = rand.Read(rnd[:])
		s.tmp = path.Join(path.Dir(f.Path), ".medic-"+path.Base(f.Path)+"."+hex.EncodeToString(rnd[:])+".tmp")
		tf, err := root.OpenFile(s.tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if err != nil {
			return err
		}
		st = append(st, s)
		_, werr := tf.Write(f.Content)
		serr := tf.Sync()
		if err := errors.Join(werr, serr, tf.Close()); err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
	}
	for i, s := range st {
		var rerr error
		if s.tmp == "" {
			rerr = root.Remove(s.path)
		} else {
			rerr = root.Rename(s.tmp, s.path)
		}
		if rerr != nil {
			var undo []error
			for _, done := range st[:i] {
				if done.existed {
					undo = append(undo, root.WriteFile(done.path, done.orig, 0o644))
				} else {
					undo = append(undo, root.Remove(done.path))
				}
			}
			return errors.Join(fmt.Errorf("%s: %w", s.path, rerr), errors.Join(undo...))
		}
	}
	return nil
}

// kindsHelp lists the intent kinds of the catalogue, one a line, with what
// each changes and an example of its params.
func kindsHelp() string {
	var b strings.Builder
	for _, k := range patchers.Kinds() {
		fmt.Fprintf(&b, "  %-15s %s\n  %-15s params: %s E.g. %s\n", k.Name, k.Summary, "", strings.ReplaceAll(k.ParamsDoc, "`", ""), k.Examples[0])
	}
	return b.String()
}

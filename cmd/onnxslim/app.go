package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/urfave/cli/v3"
)

// Exit codes of the CLI contract.
const (
	exitOK      = 0
	exitFailure = 1 // bad input, verification beyond tolerance, I/O error
	exitUsage   = 2
	// exitInterrupted is the shell's code for a command ended by SIGINT.
	exitInterrupted = 130
)

// subcommands are registered by each command's own file (see inspect.go), so
// adding a command is a one-file change.
var subcommands []func() *cli.Command

func register(f func() *cli.Command) { subcommands = append(subcommands, f) }

// usageError marks errors that are the caller's fault (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usageErrorf(format string, a ...any) error {
	return usageError{fmt.Errorf(format, a...)}
}

// newApp builds the command tree. The root command is the main job (optimize).
func newApp(stdout, stderr io.Writer) *cli.Command {
	root := optimizeCommand()
	root.Name = "onnxslim"
	root.Usage = "make ONNX models smaller and faster, and check they still compute the same"
	root.Writer, root.ErrWriter = stdout, stderr
	// Errors are printed once, by run, in the contract's one-line format.
	root.ExitErrHandler = func(context.Context, *cli.Command, error) {}
	root.HideVersion = true
	for _, f := range subcommands {
		root.Commands = append(root.Commands, f())
	}
	sort.Slice(root.Commands, func(i, j int) bool { return root.Commands[i].Name < root.Commands[j].Name })
	for _, c := range append([]*cli.Command{root}, root.Commands...) {
		c.OnUsageError = func(_ context.Context, _ *cli.Command, err error, _ bool) error {
			return usageError{err}
		}
	}
	return root
}

// run executes the CLI and returns the exit code. It never panics: a panic is
// reported as an internal error in the same one-line format.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			if os.Getenv("ONNXSLIM_DEBUG") != "" {
				fmt.Fprintf(stderr, "%s\n", debug.Stack())
			}
			fmt.Fprintf(stderr, "onnxslim: internal error: %s\n", oneLine(fmt.Sprint(r)))
			code = exitFailure
		}
	}()
	err := newApp(stdout, stderr).Run(ctx, args)
	if ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled)) {
		// Ctrl-C: whatever was under way stopped; outputs are not renamed into place.
		fmt.Fprintln(stderr, "onnxslim: interrupted")
		return exitInterrupted
	}
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "onnxslim: %s\n", oneLine(err.Error()))
	if isUsage(err) {
		return exitUsage
	}
	return exitFailure
}

func isUsage(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

// oneLine keeps an error on one line: scripts read the first line of stderr.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	s = strings.ReplaceAll(s, "\r", "")
	return strings.ReplaceAll(s, "\n", "; ")
}

// inFile prefixes err with path unless the message already names it, so every
// error names the file it is about.
func inFile(path string, err error) error {
	if err == nil || strings.Contains(err.Error(), path) {
		return err
	}
	return fmt.Errorf("%s: %w", path, err)
}

// oneArg returns the single positional argument of a command.
func oneArg(c *cli.Command, what string) (string, error) {
	switch c.Args().Len() {
	case 0:
		return "", usageErrorf("missing %s (usage: %s)", what, c.UsageText)
	case 1:
		return c.Args().First(), nil
	}
	return "", usageErrorf("expected one %s, got %d arguments: %s", what, c.Args().Len(), strings.Join(c.Args().Slice(), " "))
}

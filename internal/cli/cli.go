package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Env is what a command gets: its arguments and standard streams.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// Command is one subcommand.
type Command struct {
	Name    string
	Summary string // one line for the program's usage
	Run     func(ctx context.Context, env *Env, args []string) error
}

// Program is a set of subcommands behind one binary.
type Program struct {
	Name     string
	Usage    string // header printed above the command list
	commands map[string]*Command
}

// Add registers a subcommand; files of cmd/* call it from init.
func (p *Program) Add(c *Command) {
	if p.commands == nil {
		p.commands = map[string]*Command{}
	}
	if _, dup := p.commands[c.Name]; dup {
		panic("cli: command registered twice: " + c.Name)
	}
	p.commands[c.Name] = c
}

// UsageError marks a misuse (exit 2).
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usagef returns a misuse error.
func Usagef(format string, a ...any) error { return &UsageError{Msg: fmt.Sprintf(format, a...)} }

// HintError carries a hint printed under the error.
type HintError struct {
	Err  error
	Hint string
}

func (e *HintError) Error() string { return e.Err.Error() }
func (e *HintError) Unwrap() error { return e.Err }

// WithHint attaches a hint to err.
func WithHint(err error, hint string) error {
	if err == nil {
		return nil
	}
	return &HintError{Err: err, Hint: hint}
}

// ExitError asks for a given exit code without printing anything more
// (e.g. "check" found invalid files and already said so).
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit %d", e.Code) }

// Dev reports whether FSEGATE_DEV asks every command for development mode.
func (env *Env) Dev() bool {
	v := env.Getenv("FSEGATE_DEV")
	return v == "1" || strings.EqualFold(v, "true")
}

// Main runs the program and returns the process exit code.
func (p *Program) Main(ctx context.Context, args []string, env *Env) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		p.printUsage(env.Stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := p.commands[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "%s: error: unknown command %q\n", p.Name, args[0])
		p.printUsage(env.Stderr)
		return 2
	}
	err := c.Run(ctx, env, args[1:])
	return p.Report(env.Stderr, err)
}

// Report prints err the way every command does and gives the exit code.
func (p *Program) Report(w io.Writer, err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ex *ExitError
	if errors.As(err, &ex) {
		return ex.Code
	}
	fmt.Fprintf(w, "%s: error: %v\n", p.Name, err)
	var h *HintError
	if errors.As(err, &h) && h.Hint != "" {
		fmt.Fprintf(w, "%s: hint: %s\n", p.Name, h.Hint)
	}
	var u *UsageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

func (p *Program) printUsage(w io.Writer) {
	fmt.Fprint(w, p.Usage)
	names := make([]string, 0, len(p.commands))
	for n := range p.commands {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "\nCommands:")
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, p.commands[n].Summary)
	}
	fmt.Fprintf(w, "\nRun '%s COMMAND -h' for a command's flags and examples.\n", p.Name)
}

// FlagSet makes a FlagSet for a subcommand whose usage prints usage (the
// hand-written text with examples) then the flags.
func FlagSet(env *Env, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprint(env.Stderr, usage)
		fmt.Fprintln(env.Stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	return fs
}

// Parse parses args and turns flag errors into usage errors (exit 2).
func Parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &UsageError{Msg: err.Error()}
	}
	return nil
}

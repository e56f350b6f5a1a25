package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
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

// UsageError marks a misuse (exit 2). Hint and Usage, when set, are
// printed under the error: a "did you mean" and the command's one usage
// line.
type UsageError struct {
	Msg   string
	Hint  string
	Usage string
}

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
	if args[0] == "--version" || args[0] == "-version" || args[0] == "version" {
		fmt.Fprintln(env.Stdout, p.Name, Version())
		return 0
	}
	c, ok := p.commands[args[0]]
	if !ok {
		names := make([]string, 0, len(p.commands))
		for n := range p.commands {
			names = append(names, n)
		}
		err := &UsageError{Msg: fmt.Sprintf("unknown command %q", args[0]),
			Usage: fmt.Sprintf("%s COMMAND [flags] ('%s help' lists the commands)", p.Name, p.Name)}
		if s := closest(args[0], names); s != "" {
			err.Hint = fmt.Sprintf("did you mean '%s %s'?", p.Name, s)
		}
		return p.Report(env.Stderr, err)
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
		if u.Hint != "" {
			fmt.Fprintf(w, "%s: hint: %s\n", p.Name, u.Hint)
		}
		if u.Usage != "" {
			fmt.Fprintf(w, "usage: %s\n", u.Usage)
		}
		return 2
	}
	return 1
}

// Version is the build's version, VCS commit and Go version, from the
// build information the Go toolchain writes into the binary:
// "v1.2.0 (commit 0123abcd, go1.26.1)"; "devel" and "commit unknown" for a
// build without them (go run, go test).
func Version() string {
	version, commit, goVersion := "devel", "unknown", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			version = v
		}
		dirty := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
				if len(commit) > 12 {
					commit = commit[:12]
				}
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if dirty && commit != "unknown" {
			commit += "+modified"
		}
	}
	return fmt.Sprintf("%s (commit %s, %s)", version, commit, goVersion)
}

// closest is the candidate nearest to word by edit distance, "" when none
// is near enough to be what was meant (at most a third of its letters
// wrong, at least one).
func closest(word string, candidates []string) string {
	best, bestD := "", max(1, len(word)/3)+1
	sort.Strings(candidates)
	for _, c := range candidates {
		if d := distance(word, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b (bytes: commands
// and flags are ASCII).
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
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
		fmt.Fprint(fs.Output(), usage)
		fmt.Fprintln(fs.Output(), "\nFlags:")
		fs.PrintDefaults()
	}
	return fs
}

// Parse parses args and turns flag errors into usage errors (exit 2): the
// error once, a "did you mean" for a mistyped flag, and the command's one
// usage line; -h prints the whole usage.
func Parse(fs *flag.FlagSet, args []string) error {
	out := fs.Output()
	var buf bytes.Buffer
	fs.SetOutput(&buf)
	err := fs.Parse(args)
	fs.SetOutput(out)
	if err == nil {
		return nil
	}
	if errors.Is(err, flag.ErrHelp) {
		_, _ = out.Write(buf.Bytes())
		return err
	}
	u := &UsageError{Msg: err.Error(), Usage: usageLine(buf.String())}
	if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: "); ok {
		name = strings.TrimLeft(name, "-")
		u.Msg = "unknown flag --" + name
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		if s := closest(name, names); s != "" {
			u.Hint = "did you mean --" + s + "?"
		}
	}
	if u.Usage != "" && u.Hint == "" {
		u.Hint = fmt.Sprintf("'%s %s -h' lists the flags", strings.Fields(u.Usage)[0], fs.Name())
	}
	return u
}

// usageLine is the first command line under "Usage:" in a command's
// usage text ("workstation status [--billing B] NUMBER..."), "" when there
// is none.
func usageLine(usage string) string {
	lines := strings.Split(usage, "\n")
	for i, l := range lines {
		rest, ok := strings.CutPrefix(strings.TrimSpace(l), "Usage:")
		if !ok {
			continue
		}
		if rest = strings.TrimSpace(rest); rest != "" {
			return rest
		}
		for _, next := range lines[i+1:] {
			if next = strings.TrimSpace(next); next != "" {
				return next
			}
		}
	}
	return ""
}

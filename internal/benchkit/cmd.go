package benchkit

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Main runs a benchmark program: run with the command line arguments,
// stdout and stderr. -help ends it quietly; another error is printed as
// "name: error" and ends it with status 1.
func Main(name string, run func(args []string, stdout, stderr io.Writer) error) {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

// NewFlagSet returns the flag set of the benchmark program name: it
// reports errors (flag.ContinueOnError) and -help to stderr, and its usage
// line points at the program's documentation in cmd/name.
func NewFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s [flags]   (see go doc ./cmd/%s)\n", name, name)
		fs.PrintDefaults()
	}
	return fs
}

// ParseFlags parses args with fs and rejects arguments left after the
// flags.
func ParseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// PickList parses a comma-separated selection of what (such as "scenario")
// from known and returns it in the order of known. An unknown item or an
// empty selection is an error.
func PickList(what, list string, known []string) ([]string, error) {
	var picked []string
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if !slices.Contains(known, item) {
			return nil, fmt.Errorf("unknown %s %q (known: %s)", what, item, strings.Join(known, ", "))
		}
		picked = append(picked, item)
	}
	if len(picked) == 0 {
		return nil, fmt.Errorf("no %s selected", what)
	}
	var ordered []string
	for _, k := range known {
		if slices.Contains(picked, k) {
			ordered = append(ordered, k)
		}
	}
	return ordered, nil
}

// RunContext returns the context of a whole benchmark run: canceled by
// SIGINT or SIGTERM, or after timeout. Call stop when the run is over.
func RunContext(timeout time.Duration) (ctx context.Context, stop func()) {
	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return ctx, func() {
		cancel()
		stopSignals()
	}
}

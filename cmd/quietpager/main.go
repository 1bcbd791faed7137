// Command quietpager is the on-call alert hygiene and incident service.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	_ "time/tzdata" // rotations need every zone, also where the host has no zoneinfo
)

// gcPercent is the garbage collector's target when GOGC is unset. The
// webhook path allocates fast over a small live heap (tens of MB), so Go's
// default of 100 collects all the time: at 400 the server spent about a
// fifth less CPU per 1-alert webhook for about 30 MB more memory
// (docs/benchmarks.md).
const gcPercent = 400

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "quietpager:", err)
		stop()
		os.Exit(1)
	}
}

// Package procs scales the number of cores the Go scheduler runs goroutines
// on (GOMAXPROCS) with the broker's load: one while the broker is lightly
// loaded, all of them once it is busy.
//
// At a few thousand messages a second nearly every message wakes a
// goroutine on an idle core: the runtime wakes a second thread to run it,
// that thread finds nothing to steal, spins, polls the network and goes
// back to sleep. On the 2-core benchmark machine that churn was half of the
// broker's CPU at 5,000 QoS 1 messages a second: 35 µs of CPU per message
// with GOMAXPROCS=1 against 63 µs with 2 (docs/BENCHMARKS.md). One core
// serves such a load with room to spare; a busy broker needs every core.
//
// So a sampler measures the process's CPU use (user and system, from
// getrusage) every Interval. On one core, an interval that used RaiseAt of
// a core or more raises GOMAXPROCS to the maximum at once; at the maximum,
// LowerAfter intervals in a row that each used less than LowerAt of a core
// lower it back to one. The gap between the two thresholds, and the
// quiet run needed to lower, keep it from flapping. The maximum is the
// runtime's own choice at start (the CPU count, or the container's limit).
//
// A GOMAXPROCS environment variable pins the value: nothing is scaled.
// While scaling runs, the maximum is fixed: a change of the container's CPU
// limit is followed only after a restart.
package procs

import (
	"os"
	"runtime"
	"sync/atomic"
	"time"
)

// Defaults; see the package comment.
const (
	Interval   = 100 * time.Millisecond
	RaiseAt    = 0.4  // cores used in one interval on one core
	LowerAt    = 0.35 // cores used in each of LowerAfter intervals
	LowerAfter = 20   // intervals (2 s at Interval)
)

// single is whether goroutines run on one core (GOMAXPROCS 1): set at
// start, and by the scaler as it changes it.
var single atomic.Bool

func init() { single.Store(runtime.GOMAXPROCS(0) == 1) }

// Single reports whether goroutines run on one core now. Code that can do
// a piece of work on its own goroutine or hand it to another asks it: on one
// core handing over buys no parallelism, only a goroutine switch.
func Single() bool { return single.Load() }

// set changes GOMAXPROCS and what Single reports.
func set(n int) {
	runtime.GOMAXPROCS(n)
	single.Store(n == 1)
}

// Scaler decides the GOMAXPROCS for each sample of CPU use.
type Scaler struct {
	Max   int // the most cores
	Cur   int // the cores now
	quiet int // intervals in a row below LowerAt at Max
}

// Step takes the cores used over the last interval and returns the
// GOMAXPROCS to run with next (Cur, updated).
func (s *Scaler) Step(used float64) int {
	switch {
	case s.Cur < s.Max && used >= RaiseAt:
		s.Cur, s.quiet = s.Max, 0
	case s.Cur == s.Max && s.Max > 1 && used < LowerAt:
		s.quiet++
		if s.quiet >= LowerAfter {
			s.Cur, s.quiet = 1, 0
		}
	default:
		s.quiet = 0
	}
	return s.Cur
}

// Start begins scaling, starting from one core, and returns the function
// that stops it and restores the maximum. It does nothing (and the stop
// function nothing) when GOMAXPROCS is set in the environment, when there
// is one core, or where the process's CPU time cannot be read.
func Start() (stop func()) {
	if os.Getenv("GOMAXPROCS") != "" {
		return func() {}
	}
	return start(Interval, processCPU)
}

func start(every time.Duration, cpu func() (time.Duration, bool)) (stop func()) {
	max := runtime.GOMAXPROCS(0)
	t0, ok := cpu()
	if max < 2 || !ok {
		return func() {}
	}
	s := &Scaler{Max: max, Cur: 1}
	set(1)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		last, lastAt := t0, time.Now()
		for {
			select {
			case <-quit:
				return
			case now := <-tick.C:
				t, ok := cpu()
				wall := now.Sub(lastAt)
				if !ok || wall <= 0 {
					continue
				}
				used := float64(t-last) / float64(wall)
				last, lastAt = t, now
				if n := s.Cur; s.Step(used) != n {
					set(s.Cur)
				}
			}
		}
	}()
	return func() {
		close(quit)
		<-done
		// Back to the runtime's own choice, which again follows the
		// container's CPU limit (a GOMAXPROCS call turns that off).
		runtime.SetDefaultGOMAXPROCS()
		single.Store(runtime.GOMAXPROCS(0) == 1)
	}
}

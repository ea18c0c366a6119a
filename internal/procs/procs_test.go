package procs

import (
	"math"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

func TestStep(t *testing.T) {
	s := &Scaler{Max: 4, Cur: 1}
	if got := s.Step(RaiseAt - 0.01); got != 1 {
		t.Fatalf("just under RaiseAt on one core: %d, want 1", got)
	}
	if got := s.Step(RaiseAt); got != 4 {
		t.Fatalf("RaiseAt on one core: %d, want 4", got)
	}
	for i := 1; i < LowerAfter; i++ {
		if got := s.Step(0); got != 4 {
			t.Fatalf("quiet interval %d of %d: %d, want 4", i, LowerAfter, got)
		}
	}
	// One busy interval starts the quiet count again.
	if got := s.Step(LowerAt); got != 4 {
		t.Fatalf("busy interval: %d, want 4", got)
	}
	for i := 1; i < LowerAfter; i++ {
		s.Step(LowerAt - 0.01)
	}
	if s.Cur != 4 {
		t.Fatalf("lowered after %d quiet intervals, want %d", LowerAfter-1, LowerAfter)
	}
	if got := s.Step(0); got != 1 {
		t.Fatalf("after %d quiet intervals: %d, want 1", LowerAfter, got)
	}
	one := &Scaler{Max: 1, Cur: 1}
	for _, u := range []float64{0, 1, 2, 0} {
		if got := one.Step(u); got != 1 {
			t.Fatalf("one core, used %v: %d", u, got)
		}
	}
}

// fakeCPU reports CPU time accruing at rate cores (as float64 bits).
type fakeCPU struct {
	rate  atomic.Uint64
	total atomic.Int64
	at    atomic.Int64
}

func (f *fakeCPU) set(cores float64) {
	f.read() // accrue at the old rate first
	f.rate.Store(math.Float64bits(cores))
}

func (f *fakeCPU) read() (time.Duration, bool) {
	now := time.Now().UnixNano()
	prev := f.at.Swap(now)
	if prev != 0 {
		f.total.Add(int64(float64(now-prev) * math.Float64frombits(f.rate.Load())))
	}
	return time.Duration(f.total.Load()), true
}

func waitProcs(t *testing.T, want int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for runtime.GOMAXPROCS(0) != want {
		if time.Now().After(deadline) {
			t.Fatalf("GOMAXPROCS %d, want %d within %v", runtime.GOMAXPROCS(0), want, within)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestStartFollowsLoad(t *testing.T) {
	max := runtime.GOMAXPROCS(0)
	if max < 2 {
		t.Skip("one core: nothing to scale")
	}
	f := &fakeCPU{}
	f.read()
	stop := start(5*time.Millisecond, f.read)
	if got := runtime.GOMAXPROCS(0); got != 1 {
		stop()
		t.Fatalf("started at %d cores, want 1", got)
	}
	if !Single() {
		stop()
		t.Fatal("Single false on one core")
	}
	f.set(1)
	waitProcs(t, max, 5*time.Second)
	// The scaler stores what Single reports just after it changes
	// GOMAXPROCS, which the loop above may see first.
	for deadline := time.Now().Add(5 * time.Second); Single(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("Single true on %d cores", max)
		}
	}
	f.set(0)
	// LowerAfter quiet intervals of 5 ms.
	waitProcs(t, 1, 5*time.Second)
	f.set(1)
	waitProcs(t, max, 5*time.Second)
	stop()
	if got := runtime.GOMAXPROCS(0); got != max {
		t.Fatalf("after stop: %d cores, want %d", got, max)
	}
}

func TestPinnedByEnvironment(t *testing.T) {
	t.Setenv("GOMAXPROCS", "2")
	max := runtime.GOMAXPROCS(0)
	stop := Start()
	defer stop()
	if got := runtime.GOMAXPROCS(0); got != max {
		t.Fatalf("GOMAXPROCS set in the environment, yet %d cores, was %d", got, max)
	}
}

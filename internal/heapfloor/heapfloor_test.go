package heapfloor

import (
	"os"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

const mb = 1 << 20

func TestPercent(t *testing.T) {
	for _, tc := range []struct {
		live, scan, floor uint64
		want              int
	}{
		{2 * mb, 3 * mb, 32 * mb, 800},   // capped: 4 MB × 8 = the floor is the goal
		{8 * mb, 9 * mb, 32 * mb, 266},   // 8 + 9 × 2.66 = 32 MB
		{12 * mb, 16 * mb, 32 * mb, 125}, // 12 + 16 × 1.25 = 32 MB
		{16 * mb, 17 * mb, 32 * mb, 100}, // the default goal passes the floor
		{100 * mb, 101 * mb, 32 * mb, 100},
		{0, 0, 32 * mb, 800},
		{10 * mb, 5 * mb, 32 * mb, 220}, // scan is at least live
	} {
		if got := Percent(tc.live, tc.scan, tc.floor); got != tc.want {
			t.Errorf("Percent(%d, %d, %d) = %d, want %d", tc.live, tc.scan, tc.floor, got, tc.want)
		}
	}
	// The goal the runtime derives (runtime/mgcpacer.go) is the floor, or
	// the default when that is larger, for any live heap.
	for live := uint64(0); live < 64*mb; live += mb / 4 {
		scan := live + live/8 + 64<<10 // stacks and globals
		p := uint64(Percent(live, scan, 32*mb))
		goal := max(live+scan*p/100, heapMinimum*p/100)
		want := max(32*mb, live+scan, heapMinimum)
		if goal < want-want/50 || goal > want+want/50 {
			t.Fatalf("live %d: percent %d gives goal %d, want about %d", live, p, goal, want)
		}
	}
}

// read returns a runtime metric.
func read(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

var keep [][]byte

// settle collects until the keeper has applied the percentage for the heap
// as it is now (it runs after each collection, on another goroutine), and
// returns the heap goal.
func settle(t *testing.T, floor uint64) uint64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		runtime.GC()
		want := Percent(read("/gc/heap/live:bytes"), read("/gc/heap/live:bytes")+read("/gc/scan/stack:bytes")+read("/gc/scan/globals:bytes"), floor)
		for end := time.Now().Add(100 * time.Millisecond); time.Now().Before(end); {
			if read("/gc/gogc:percent") == uint64(want) {
				return read("/gc/heap/goal:bytes")
			}
			runtime.Gosched()
		}
	}
	t.Fatalf("GOGC %d, never the keeper's percentage", read("/gc/gogc:percent"))
	return 0
}

func TestKeeperHoldsTheGoalAtTheFloor(t *testing.T) {
	if _, set := os.LookupEnv("GOGC"); set {
		t.Skip("GOGC is set: the keeper stays off")
	}
	before := read("/gc/gogc:percent")
	const floor = 64 * mb
	stop := Start(floor)
	defer func() { keep = nil }()
	// Grow the live heap in steps, a collection at least between each: the
	// goal stays at the floor until the default passes it, then follows it.
	for _, liveMB := range []int{0, 4, 12, 24, 40, 60} {
		for len(keep) < liveMB {
			keep = append(keep, make([]byte, mb))
		}
		goal := settle(t, floor)
		live := read("/gc/heap/live:bytes")
		want := max(uint64(floor), 2*live)
		if goal < want*9/10 || goal > want*12/10 {
			stop()
			t.Fatalf("%d MB kept, live %d: heap goal %d MB, want about %d MB", liveMB, live, goal/mb, want/mb)
		}
		t.Logf("%d MB kept: live %d MB, GOGC %d, goal %d MB", liveMB, live/mb, read("/gc/gogc:percent"), goal/mb)
	}
	stop()
	if p := read("/gc/gogc:percent"); p != before {
		t.Fatalf("GOGC %d after stop, want %d as before Start", p, before)
	}
	// Stopped: a collection leaves the percentage alone.
	keep = nil
	runtime.GC()
	runtime.GC()
	if p := read("/gc/gogc:percent"); p != before {
		t.Fatalf("GOGC %d after stop and two collections, want %d", p, before)
	}
}

func TestGOGCSetTurnsItOff(t *testing.T) {
	t.Setenv("GOGC", "100")
	before := read("/gc/gogc:percent")
	stop := Start(1 << 30)
	defer stop()
	if p := read("/gc/gogc:percent"); p != before {
		t.Fatalf("GOGC %d with GOGC set in the environment, want %d unchanged", p, before)
	}
}

package heapfloor

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mb = 1 << 20
	for _, tc := range []struct {
		live, floor uint64
		want        int
	}{
		{2 * mb, 32 * mb, 1500},  // goal 2 + 30 = 32 MB
		{8 * mb, 32 * mb, 300},   // goal 32 MB
		{16 * mb, 32 * mb, 100},  // twice live is the floor: the default
		{100 * mb, 32 * mb, 100}, // above the floor: the default
		{0, 32 * mb, maxPercent}, // nothing live yet: bounded
		{1, 1 << 40, maxPercent},
	} {
		if got := Percent(tc.live, tc.floor); got != tc.want {
			t.Errorf("Percent(%d, %d) = %d, want %d", tc.live, tc.floor, got, tc.want)
		}
		if tc.live > 0 && tc.want < maxPercent {
			if goal := tc.live + tc.live*uint64(Percent(tc.live, tc.floor))/100; goal < tc.floor && goal < 2*tc.live {
				t.Errorf("live %d: goal %d below both the floor and twice live", tc.live, goal)
			}
		}
	}
}

// gogc reads the GC percentage in force.
func gogc() uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

var keep [][]byte

func TestKeeperFollowsTheLiveHeap(t *testing.T) {
	if _, set := os.LookupEnv("GOGC"); set {
		t.Skip("GOGC is set: the keeper stays off")
	}
	before := gogc()
	const floor = 256 << 20
	stop := Start(floor)
	if p := gogc(); p <= 100 {
		stop()
		t.Fatalf("GOGC %d after Start with a 256 MB floor and a small heap", p)
	}
	small := gogc()
	// Grow the live heap past half the floor: after the next collections
	// the keeper must be back at the default.
	for i := 0; i < 160; i++ {
		keep = append(keep, make([]byte, 1<<20))
	}
	deadline := time.Now().Add(10 * time.Second)
	for gogc() != 100 && time.Now().Before(deadline) {
		runtime.GC()
		runtime.Gosched()
	}
	if p := gogc(); p != 100 {
		stop()
		t.Fatalf("GOGC %d with 160 MB live and a 256 MB floor (was %d at start), want 100", p, small)
	}
	keep = nil
	stop()
	if p := gogc(); p != before {
		t.Fatalf("GOGC %d after stop, want %d as before Start", p, before)
	}
	debug.FreeOSMemory()
}

func TestGOGCSetTurnsItOff(t *testing.T) {
	t.Setenv("GOGC", "100")
	before := gogc()
	stop := Start(1 << 30)
	defer stop()
	if p := gogc(); p != before {
		t.Fatalf("GOGC %d with GOGC set in the environment, want %d unchanged", p, before)
	}
}

package broker

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestIdleReleaseEndedGoroutines: when thousands of goroutines have ended
// (idle connections parking), a quiet tick releases their stacks, even
// within idleReleaseEvery of the previous release.
func TestIdleReleaseEndedGoroutines(t *testing.T) {
	r := newIdleRelease()
	r.tick()
	r.wait = idleReleaseEvery // as if a release had just run
	const n = idleStacksEnded + 500
	endGoroutines(t, r, n) // its tick sees the peak (and the allocation of n goroutines: not quiet)
	if !r.tick() {
		t.Fatalf("no release after %d goroutines ended (peak %d)", n, r.peakG)
	}
	if r.tick() {
		t.Fatal("a second release with nothing more ended")
	}
}

// endGoroutines starts n goroutines, lets r see them, and ends them. The
// memidle tests read process-wide allocation and goroutine counts, so they
// do not call t.Parallel: they run before the package's parallel tests.
func endGoroutines(t *testing.T, r *idleRelease, n int) {
	t.Helper()
	before := runtime.NumGoroutine()
	stop := make(chan struct{})
	var started, ended sync.WaitGroup
	started.Add(n)
	ended.Add(n)
	for i := 0; i < n; i++ {
		go func() { defer ended.Done(); started.Done(); <-stop }()
	}
	started.Wait()
	r.tick()
	close(stop)
	ended.Wait()
	waitFor(t, "the goroutines to exit", 5*time.Second, func() bool { return runtime.NumGoroutine() <= before })
}

// TestIdleReleaseStacksRateLimited: clients that all wake and park again
// every few seconds do not force a collection each time: after a release
// for ended stacks, the next one waits idleReleaseEvery ticks.
func TestIdleReleaseStacksRateLimited(t *testing.T) {
	r := newIdleRelease()
	r.tick()
	endGoroutines(t, r, idleStacksEnded+500)
	if !r.tick() {
		t.Fatal("no release for the first burst of ended goroutines")
	}
	endGoroutines(t, r, idleStacksEnded+500)
	if r.tick() {
		t.Fatal("a second stacks release within idleReleaseEvery ticks")
	}
	// The second burst's stacks are released once the wait is over, not
	// before.
	released := -1
	for i := 1; i <= idleReleaseEvery && released < 0; i++ {
		if r.tick() {
			released = i
		}
	}
	// Ticks since the first release: endGoroutines' one, the refused one,
	// then the loop's.
	if 2+released != idleReleaseEvery {
		t.Fatalf("deferred release %d ticks after the first, want %d", 2+released, idleReleaseEvery)
	}
}

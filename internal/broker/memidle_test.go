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
	before := runtime.NumGoroutine()
	const n = idleStacksEnded + 500
	stop := make(chan struct{})
	var started, ended sync.WaitGroup
	started.Add(n)
	ended.Add(n)
	for i := 0; i < n; i++ {
		go func() { defer ended.Done(); started.Done(); <-stop }()
	}
	started.Wait()
	r.tick() // sees the peak (and the allocation of n goroutines: not quiet)
	close(stop)
	ended.Wait()
	waitFor(t, "the goroutines to exit", 5*time.Second, func() bool { return runtime.NumGoroutine() <= before })
	if !r.tick() {
		t.Fatalf("no release after %d goroutines ended (peak %d)", n, r.peakG)
	}
	if r.tick() {
		t.Fatal("a second release with nothing more ended")
	}
}

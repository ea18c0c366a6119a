// Package heapfloor keeps the garbage collector's heap goal at or above a
// floor while the live heap is small.
//
// By default (GOGC=100) Go starts a collection when the heap reaches twice
// what the last one left live, and never below 4 MB. A broker whose live
// heap is a few megabytes and growing, as in a storm of new connections
// that each add a session, therefore collects every few hundred
// connections. Each cycle costs little CPU, but while it marks, goroutines
// that allocate must help it (assists), goroutine stacks are scanned, and
// on two cores a mark worker takes a share of one: each cycle is a few
// milliseconds of delay for whatever connects meanwhile, which is what a
// CONNACK p99 measures (docs/BENCHMARKS.md, "Connect storms: the heap
// floor").
//
// So after every collection the keeper sets the GC percentage that puts
// the next goal at the larger of the default one (about twice the live
// heap, plus the goroutine stacks) and the floor. Once the default reaches
// the floor this is the runtime's own behaviour. The cost is memory: a
// broker with little live data may hold up to the floor in heap before it
// collects. A GOGC environment variable turns the keeper off, leaving the
// operator's setting in force; GOMEMLIMIT still applies.
package heapfloor

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Floor is the broker's heap goal floor.
const Floor = 32 << 20

// heapMinimum is the runtime's least heap goal at GOGC=100; it scales with
// the percentage (runtime/mgcpacer.go: heapMinimum = 4 MB × GOGC/100).
const heapMinimum = 4 << 20

// Percent returns the GC percentage that puts the next heap goal at the
// larger of the default one and floor. The runtime's goal for a percentage
// p is the larger of live + scan×p/100 (scan: the live heap, goroutine
// stacks and globals) and 4 MB×p/100, and the default is p = 100.
func Percent(live, scan, floor uint64) int {
	scan = max(scan, live, 1)
	if live+scan >= floor {
		return 100
	}
	p := (floor - live) * 100 / scan // live + scan×p/100 = floor
	// No more than makes the minimum the floor: a larger p would raise
	// the goal past the floor for a small live heap.
	p = min(p, floor*100/heapMinimum)
	return int(max(p, 100))
}

// Start keeps the floor from now on, unless the environment sets GOGC or
// floor is 0. The function it returns stops the keeper and restores the
// percentage in force before.
func Start(floor uint64) (stop func()) {
	if _, set := os.LookupEnv("GOGC"); set || floor == 0 {
		return func() {}
	}
	k := &keeper{floor: floor, sample: []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/scan/stack:bytes"},
		{Name: "/gc/scan/globals:bytes"},
	}}
	k.applied = k.percent()
	prev := debug.SetGCPercent(k.applied)
	k.arm()
	return func() {
		k.mu.Lock()
		k.stopped = true
		debug.SetGCPercent(prev)
		k.mu.Unlock()
	}
}

type keeper struct {
	floor  uint64
	sample []metrics.Sample // read by percent, under mu

	mu      sync.Mutex
	applied int // the percentage set last
	stopped bool
}

// percent reads the live heap (before the first collection, the heap in
// use now) and what the collector scans, and returns the percentage.
func (k *keeper) percent() int {
	metrics.Read(k.sample)
	live := k.sample[0].Value.Uint64()
	if live == 0 {
		live = k.sample[1].Value.Uint64()
	}
	scan := live + k.sample[2].Value.Uint64() + k.sample[3].Value.Uint64()
	return Percent(live, scan, k.floor)
}

// sentinel is an object nothing refers to: the first collection after it
// is made runs its cleanup, which adjusts the percentage and makes the
// next one. Its pointer field keeps it out of the tiny allocator, where it
// would share a block with other objects and live as long as they do.
type sentinel struct{ _ *int }

func (k *keeper) arm() {
	runtime.AddCleanup(&sentinel{}, (*keeper).collected, k)
}

// collected runs after each collection, on the runtime's cleanup goroutine.
func (k *keeper) collected() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stopped {
		return
	}
	if p := k.percent(); p != k.applied {
		k.applied = p
		debug.SetGCPercent(p)
	}
	k.arm()
}

package broker

import (
	"runtime/debug"
	"runtime/metrics"
)

// idleRelease returns the heap left over from a burst (a storm of connects,
// a backlog of messages) to the operating system once the broker is quiet.
//
// Go collects garbage only as the heap grows (GOGC) and, on an idle
// process, every two minutes; pages freed by a collection stay in the
// process until the background scavenger, which keeps about the heap goal
// (twice the live heap), gets to them. So a broker that accepted 15,000
// connections and then went quiet kept the garbage of their CONNECT
// handling and up to twice its live heap resident. Once a second the expiry
// loop looks at how much was allocated: when the last second was quiet and
// much was allocated since the last collection, it collects and releases
// the free pages (debug.FreeOSMemory): a few milliseconds of CPU on a broker
// that has nothing else to do.
//
// Goroutines that ended keep their stacks until a collection frees them,
// and idle connections end theirs when they park (park.go): the connections
// of a burst park over the second after it, mostly after the release the
// burst's garbage triggered. So a fall of the goroutine count by
// idleStacksEnded since the last release is worth a release of its own,
// without waiting for the garbage release's idleReleaseEvery; it has a wait
// of its own, so that clients that all wake and park again every few
// seconds do not force a collection each time.
type idleRelease struct {
	samples   []metrics.Sample
	lastAlloc uint64 // cumulative bytes allocated at the previous tick
	lastGCs   uint64 // GC cycles at the previous tick
	sinceGC   uint64 // bytes allocated since the last GC cycle seen
	peakG     uint64 // most goroutines seen since the last release
	wait      int    // ticks before the next release may run
	swait     int    // ticks before the next release for ended stacks may run
}

const (
	idleAllocPerTick = 1 << 20  // quiet: less than this allocated in the last second
	idleReleaseMin   = 16 << 20 // worth it: at least this allocated since the last collection, or free
	idleReleaseEvery = 10       // ticks: at most one release per 10 s (but see idleStacksEnded)
	idleStacksEnded  = 2048     // goroutines ended since the last release: at least 4 MiB of stacks
)

func newIdleRelease() *idleRelease {
	return &idleRelease{samples: []metrics.Sample{
		{Name: "/gc/heap/allocs:bytes"},
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/memory/classes/heap/free:bytes"}, // free pages not yet returned
		{Name: "/sched/goroutines:goroutines"},
	}}
}

// tick is called once a second; it reports whether it released memory.
func (r *idleRelease) tick() bool {
	metrics.Read(r.samples)
	alloc, gcs := r.samples[0].Value.Uint64(), r.samples[1].Value.Uint64()
	delta := alloc - r.lastAlloc
	if gcs != r.lastGCs {
		// A collection ran during the last second: what was allocated
		// before it is accounted for; count this second's allocations.
		r.sinceGC = delta
	} else {
		r.sinceGC += delta
	}
	r.lastAlloc, r.lastGCs = alloc, gcs
	if r.wait > 0 {
		r.wait--
	}
	if r.swait > 0 {
		r.swait--
	}
	g := r.samples[3].Value.Uint64()
	r.peakG = max(r.peakG, g)
	garbage := r.wait == 0 && r.sinceGC+r.samples[2].Value.Uint64() >= idleReleaseMin
	stacks := r.swait == 0 && r.peakG-g >= idleStacksEnded
	if delta >= idleAllocPerTick || !garbage && !stacks {
		return false
	}
	r.wait = idleReleaseEvery
	if stacks {
		// Not set by a garbage release: the stacks of a burst's connections,
		// parking just after it, are released without waiting for that.
		r.swait = idleReleaseEvery
	}
	debug.FreeOSMemory()
	metrics.Read(r.samples)
	r.lastAlloc, r.lastGCs, r.sinceGC = r.samples[0].Value.Uint64(), r.samples[1].Value.Uint64(), 0
	r.peakG = r.samples[3].Value.Uint64()
	return true
}

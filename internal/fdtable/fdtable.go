// Package fdtable grows the process's file descriptor table ahead of need.
//
// Linux keeps a process's open descriptors in one table that it doubles
// when a new descriptor does not fit (64, 128, ... slots) and never
// shrinks. In a multi-threaded process, which every Go program is, each
// doubling waits for an RCU grace period (expand_fdtable calls
// synchronize_rcu), and meanwhile every other thread that opens a
// descriptor waits for the resize. Under a storm of new connections that
// is one stall at each power of two: at 5,000 connects a second, at 50,
// 100, 200, 400, 800 and 1,600 ms, each of several milliseconds, for
// every accept in flight. A single-threaded broker such as Mosquitto does
// not wait for the grace period. Growing the table once at start, before
// any client connects, moves those stalls out of the connection path
// (docs/BENCHMARKS.md, "Connect storms: the descriptor table").
//
// The table costs the kernel about 8 bytes per slot: 512 KiB for 65,536.
package fdtable

// Default is how many descriptors a broker with no connection limit
// reserves room for.
const Default = 65536

// Reserve grows the descriptor table to hold at least n descriptors, or
// as many as the soft RLIMIT_NOFILE allows if that is fewer, and returns
// the number of slots the table now has room for (0 where the platform
// has no such table or it could not be grown). It opens and closes one
// descriptor; descriptors already open are not touched.
func Reserve(n int) int { return reserve(n) }

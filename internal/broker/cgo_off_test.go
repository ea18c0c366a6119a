//go:build !cgo

package broker

// storeOnHeap: without cgo (a machine with no C compiler, or a cross
// build), Pebble allocates its memtables and block cache on the Go heap:
// up to two 4 MiB memtables and its 8 MiB cache by default, which a test
// of heap growth must allow for.
const storeOnHeap = 16 << 20

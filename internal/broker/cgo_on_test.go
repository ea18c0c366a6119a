//go:build cgo

package broker

// storeOnHeap: with cgo, Pebble allocates its memtables and block cache
// with C's allocator, outside the Go heap.
const storeOnHeap = 0

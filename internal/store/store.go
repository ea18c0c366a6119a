// Package store is midge's crash-safe persistence: an ordered key/value
// engine (Pebble, behind the small Engine interface) and a committer that
// groups the writes of many connections into one synced batch (group
// commit), so that a broker can acknowledge a message only once it is
// durable without paying one fsync per message.
//
// # Key layout
//
// Keys are byte strings; a client id never contains a NUL byte (MQTT
// strings exclude U+0000), so NUL separates a client id from what follows.
// Integers in keys are big-endian so that key order is numeric order.
//
//	m\x00meta                        format version of the store ("1")
//	m\x00imported                    set once a mosquitto.db was imported (its path)
//	r\x00<topic>                     a retained message (EncodeMessage)
//	s\x00<client id>                 a persistent session (EncodeSession)
//	u\x00<client id>\x00<filter>     one subscription of that session (EncodeSub)
//	o\x00<client id>\x00<seq u64>    one outbound message of that session, queued or in
//	                                 flight (EncodeOutbound); seq orders the queue and is
//	                                 unique in the store
//	i\x00<client id>\x00<mid u16>    one inbound QoS 2 message awaiting PUBREL (EncodeMessage)
//
// All the keys of one session sit under the three prefixes
// SessionPrefixes(id) returns, so ending a session is three range deletes.
//
// # Durability
//
// Writers Enqueue operations and get a sequence number; Wait(seq) returns
// once everything enqueued up to seq is durable (SyncAlways: written and
// fsynced; SyncPeriodic: written to the engine, fsynced within the
// interval). One committer goroutine takes everything enqueued so far and
// applies it as one atomic batch with one sync, so N connections waiting at
// the same time cost one fsync, not N. Hold() makes a group of operations
// enqueued by one caller atomic: no batch boundary falls between its first
// and last operation.
//
// A failed write is sticky: Err reports it, every Wait returns it, and no
// later write is applied, so the store is never left with a partial
// sequence of operations.
package store

import (
	"encoding/binary"
	"errors"
	"sync"
	"time"
)

// Op is one write: a Set (Value non-nil or empty), a Delete, or a range
// delete of [Key, End).
type Op struct {
	Key   []byte
	Value []byte
	Kind  OpKind
	End   []byte // for DeleteRange
}

// OpKind says what an Op does.
type OpKind byte

const (
	Set OpKind = iota
	Delete
	DeleteRange
)

// Engine is the ordered key/value engine under the committer.
type Engine interface {
	// Apply writes ops atomically; sync makes them durable before returning.
	Apply(ops []Op, sync bool) error
	// Sync makes every applied write durable.
	Sync() error
	// Iterate calls fn for every key with the prefix, in key order. The
	// slices are valid only during the call.
	Iterate(prefix []byte, fn func(k, v []byte) error) error
	// IterateFrom is Iterate starting at the first key >= start.
	IterateFrom(prefix, start []byte, fn func(k, v []byte) error) error
	Get(key []byte) ([]byte, bool, error)
	Close() error
}

// SyncMode is the durability of an acknowledged write.
type SyncMode int

const (
	// SyncAlways: Wait returns once the write is fsynced (the default).
	SyncAlways SyncMode = iota
	// SyncPeriodic: Wait returns once the write is applied; the log is
	// fsynced every Interval. A crash of the machine (not just of the
	// process) may lose the last Interval of acknowledged writes.
	SyncPeriodic
)

// Options configure a DB.
type Options struct {
	Sync     SyncMode
	Interval time.Duration // SyncPeriodic: time between fsyncs (default 1 s)
}

// DB is an Engine with the group committer.
type DB struct {
	eng  Engine
	opts Options

	mu      sync.Mutex
	cond    *sync.Cond // signalled when durable advances or a hold ends
	work    *sync.Cond // wakes the committer
	pending []Op
	base    uint64 // sequence number of pending[0] minus one
	durable uint64 // every op up to this sequence number is durable
	holds   map[uint64]int
	err     error
	closing bool
	done    chan struct{}

	// Stats
	batches uint64
	syncs   uint64

	// engMu keeps Close from closing the engine while DiskSize asks it;
	// kept apart from mu, which the publish path takes.
	engMu     sync.RWMutex
	engClosed bool
}

// ErrClosed is returned for writes after Close.
var ErrClosed = errors.New("store closed")

// New starts a committer over eng.
func New(eng Engine, o Options) *DB {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	d := &DB{eng: eng, opts: o, holds: map[uint64]int{}, done: make(chan struct{})}
	d.cond = sync.NewCond(&d.mu)
	d.work = sync.NewCond(&d.mu)
	go d.commitLoop()
	if o.Sync == SyncPeriodic {
		go d.syncLoop()
	}
	return d
}

// Engine returns the engine, for reads.
func (d *DB) Engine() Engine { return d.eng }

// Enqueue adds operations, applied in order after everything enqueued
// before, and returns the sequence number to Wait for. It never blocks on
// I/O.
func (d *DB) Enqueue(ops ...Op) uint64 {
	d.mu.Lock()
	d.pending = append(d.pending, ops...)
	seq := d.base + uint64(len(d.pending))
	d.work.Signal()
	d.mu.Unlock()
	return seq
}

// Seq returns the sequence number of the last operation enqueued.
func (d *DB) Seq() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.base + uint64(len(d.pending))
}

// Hold starts an atomic group: operations enqueued from now until the
// returned function is called are applied in the same batch. Keep it short:
// while a hold is open, nothing enqueued after its start is committed.
func (d *DB) Hold() (release func()) {
	d.mu.Lock()
	start := d.base + uint64(len(d.pending))
	d.holds[start]++
	d.mu.Unlock()
	return func() {
		d.mu.Lock()
		if d.holds[start]--; d.holds[start] == 0 {
			delete(d.holds, start)
		}
		d.work.Signal()
		d.mu.Unlock()
	}
}

// Wait blocks until every operation up to seq is durable (or, in periodic
// mode, applied), and returns the store's write error if there is one.
func (d *DB) Wait(seq uint64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for d.durable < seq && d.err == nil {
		d.cond.Wait()
	}
	return d.err
}

// Durable reports whether every operation up to seq is durable.
func (d *DB) Durable(seq uint64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.durable >= seq
}

// Err returns the sticky write error, or nil.
func (d *DB) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// Stats returns the number of batches applied and of fsyncs made.
func (d *DB) Stats() (batches, syncs uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.batches, d.syncs
}

// DiskSize returns the bytes the engine's files take on disk; ok is false
// when the engine cannot tell or the store is closing.
func (d *DB) DiskSize() (n uint64, ok bool) {
	ds, can := d.eng.(interface{ DiskSize() uint64 })
	if !can {
		return 0, false
	}
	d.engMu.RLock()
	defer d.engMu.RUnlock()
	if d.engClosed {
		return 0, false
	}
	return ds.DiskSize(), true
}

// cut returns how many pending operations may be committed: all of them,
// or up to the start of the oldest open hold.
func (d *DB) cut() int {
	n := len(d.pending)
	for start := range d.holds {
		if k := int(start - d.base); k < n {
			n = k
		}
	}
	return n
}

func (d *DB) commitLoop() {
	defer close(d.done)
	d.mu.Lock()
	for {
		for (d.cut() == 0 || d.err != nil) && !(d.closing && len(d.holds) == 0) {
			d.work.Wait()
		}
		n := d.cut()
		if n == 0 || d.err != nil {
			// closing, nothing more to write
			d.mu.Unlock()
			return
		}
		ops := d.pending[:n:n]
		d.pending = append([]Op(nil), d.pending[n:]...)
		end := d.base + uint64(n)
		d.base = end
		sync := d.opts.Sync == SyncAlways
		d.mu.Unlock()
		err := d.eng.Apply(ops, sync)
		d.mu.Lock()
		d.batches++
		if sync {
			d.syncs++
		}
		if err != nil {
			d.err = err
		} else {
			d.durable = end
		}
		d.cond.Broadcast()
	}
}

func (d *DB) syncLoop() {
	t := time.NewTicker(d.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-d.done:
			return
		case <-t.C:
			d.Flush()
		}
	}
}

// Flush waits for everything enqueued so far and fsyncs the engine (the
// checkpoint of SIGUSR1 and shutdown).
func (d *DB) Flush() error {
	if err := d.Wait(d.Seq()); err != nil {
		return err
	}
	err := d.eng.Sync()
	d.mu.Lock()
	d.syncs++
	if err != nil && d.err == nil {
		d.err = err
		d.cond.Broadcast()
	}
	d.mu.Unlock()
	return err
}

// Close commits what is pending, syncs and closes the engine.
func (d *DB) Close() error {
	d.mu.Lock()
	d.closing = true
	d.work.Broadcast()
	d.mu.Unlock()
	<-d.done
	err := d.Err()
	if serr := d.eng.Sync(); err == nil {
		err = serr
	}
	d.engMu.Lock()
	d.engClosed = true
	cerr := d.eng.Close()
	d.engMu.Unlock()
	if err == nil {
		err = cerr
	}
	return err
}

// Key prefixes (see the package doc).
const (
	PrefixMeta     = "m\x00"
	PrefixRetained = "r\x00"
	PrefixSession  = "s\x00"
	PrefixSub      = "u\x00"
	PrefixOut      = "o\x00"
	PrefixIn       = "i\x00"
)

// MetaKey returns the key of a metadata entry.
func MetaKey(name string) []byte { return []byte(PrefixMeta + name) }

// RetainedKey returns the key of the retained message on topic.
func RetainedKey(topic string) []byte { return []byte(PrefixRetained + topic) }

// SessionKey returns the key of a session record.
func SessionKey(id string) []byte { return []byte(PrefixSession + id) }

// SubKey returns the key of one subscription.
func SubKey(id, filter string) []byte { return []byte(PrefixSub + id + "\x00" + filter) }

// OutKey returns the key of one outbound message.
func OutKey(id string, seq uint64) []byte {
	k := make([]byte, 0, len(PrefixOut)+len(id)+9)
	k = append(k, PrefixOut...)
	k = append(k, id...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, seq)
}

// OutPrefix returns the prefix of every outbound message key of a session.
func OutPrefix(id string) []byte { return []byte(PrefixOut + id + "\x00") }

// InKey returns the key of one inbound QoS 2 message.
func InKey(id string, mid uint16) []byte {
	k := make([]byte, 0, len(PrefixIn)+len(id)+3)
	k = append(k, PrefixIn...)
	k = append(k, id...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint16(k, mid)
}

// SplitID splits a key under one of the per-session prefixes into the
// client id and the rest (filter, seq or mid bytes).
func SplitID(key []byte, prefix string) (id string, rest []byte, ok bool) {
	if len(key) < len(prefix) || string(key[:len(prefix)]) != prefix {
		return "", nil, false
	}
	k := key[len(prefix):]
	for i, b := range k {
		if b == 0 {
			return string(k[:i]), k[i+1:], true
		}
	}
	return "", nil, false
}

// DeleteSession returns the operations that remove every key of a session.
func DeleteSession(id string) []Op {
	ops := []Op{{Key: SessionKey(id), Kind: Delete}}
	for _, p := range []string{PrefixSub, PrefixOut, PrefixIn} {
		start := []byte(p + id + "\x00")
		end := []byte(p + id + "\x01")
		ops = append(ops, Op{Key: start, End: end, Kind: DeleteRange})
	}
	return ops
}

// PrefixEnd returns the first key after every key with the prefix.
func PrefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

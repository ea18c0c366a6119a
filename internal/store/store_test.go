package store

import (
	"bytes"
	"errors"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/packet"
	"github.com/midgemq/midge/internal/session"
	"github.com/midgemq/midge/internal/topic"
)

func TestKeyLayout(t *testing.T) {
	if got := string(SubKey("c1", "a/#")); got != "u\x00c1\x00a/#" {
		t.Fatalf("SubKey = %q", got)
	}
	if got := OutKey("c1", 258); !bytes.Equal(got, []byte("o\x00c1\x00\x00\x00\x00\x00\x00\x00\x01\x02")) {
		t.Fatalf("OutKey = %q", got)
	}
	if got := InKey("c1", 7); !bytes.Equal(got, []byte("i\x00c1\x00\x00\x07")) {
		t.Fatalf("InKey = %q", got)
	}
	// Numeric order is key order.
	if bytes.Compare(OutKey("c", 255), OutKey("c", 256)) >= 0 {
		t.Fatal("OutKey order")
	}
	// A session's keys never fall under another id that extends it.
	if bytes.HasPrefix(SubKey("ab", "x"), []byte(PrefixSub+"a\x00")) {
		t.Fatal("prefix overlap")
	}
	id, rest, ok := SplitID(SubKey("c1", "a/b"), PrefixSub)
	if !ok || id != "c1" || string(rest) != "a/b" {
		t.Fatalf("SplitID = %q %q %v", id, rest, ok)
	}
	if got := PrefixEnd([]byte("a\xff")); string(got) != "b" {
		t.Fatalf("PrefixEnd = %q", got)
	}
}

func TestRecordRoundTrips(t *testing.T) {
	m := &session.Message{Topic: "a/b", Payload: []byte("hi"), QoS: 2, Retain: true, Origin: "pub", ExpiresAt: 1700000000,
		Props: &packet.Properties{HasContentType: true, ContentType: "text/plain", HasCorrelation: true, CorrelationData: []byte{1, 2},
			HasResponseTopic: true, ResponseTopic: "r", HasPayloadFormat: true, PayloadFormat: 1,
			User: []packet.UserProperty{{Key: "k", Value: "v"}}}}
	got, err := DecodeMessage(EncodeMessage(m))
	if err != nil || !reflect.DeepEqual(got, m) {
		t.Fatalf("message: %v\n%+v\n%+v", err, got, m)
	}
	plain := &session.Message{Topic: "t", Payload: []byte{}, QoS: 1}
	if got, err := DecodeMessage(EncodeMessage(plain)); err != nil || !reflect.DeepEqual(got, plain) {
		t.Fatalf("plain message: %v %+v", err, got)
	}
	o := &session.Outbound{Msg: plain, QoS: 1, Retain: true, Mid: 65535, State: session.WaitPubcomp, Dup: true, SubIDs: []uint32{3, 268435455}}
	if got, err := DecodeOutbound(EncodeOutbound(o)); err != nil || !reflect.DeepEqual(got, o) {
		t.Fatalf("outbound: %v %+v", err, got)
	}
	s := &Session{Version: 5, Expiry: ^uint32(0), DisconnectedAt: 12345, Username: "u"}
	if got, err := DecodeSession(EncodeSession(s)); err != nil || !reflect.DeepEqual(got, s) {
		t.Fatalf("session: %v %+v", err, got)
	}
	s.Will, s.WillDelay = m, 30
	if got, err := DecodeSession(EncodeSession(s)); err != nil || !reflect.DeepEqual(got, s) {
		t.Fatalf("session: %v %+v", err, got)
	}
	so := topic.Options{QoS: 2, NoLocal: true, RetainAsPublished: true, RetainHandling: 2, ID: 99}
	if got, err := DecodeSub(EncodeSub(so)); err != nil || got != so {
		t.Fatalf("sub: %v %+v", err, got)
	}
	// Truncated records are errors, never panics.
	full := EncodeOutbound(o)
	for i := 0; i < len(full); i++ {
		if _, err := DecodeOutbound(full[:i]); err == nil {
			t.Fatalf("truncated at %d decoded", i)
		}
	}
}

func TestPebbleRoundTrip(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	seq := db.Enqueue(
		Op{Key: SessionKey("c1"), Value: EncodeSession(&Session{Version: 4, Expiry: ^uint32(0)})},
		Op{Key: SubKey("c1", "a/#"), Value: EncodeSub(topic.Options{QoS: 1})},
		Op{Key: OutKey("c1", 1), Value: []byte("x")},
		Op{Key: OutKey("c1", 2), Value: []byte("y")},
		Op{Key: SessionKey("c10"), Value: []byte("z")},
		Op{Key: SubKey("c10", "b"), Value: []byte("z")},
		Op{Key: RetainedKey("r/1"), Value: []byte("r")},
	)
	if err := db.Wait(seq); err != nil {
		t.Fatal(err)
	}
	db.Enqueue(Op{Key: OutKey("c1", 1), Kind: Delete})
	db.Enqueue(DeleteSession("c10")...)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if !Exists(dir) {
		t.Fatal("Exists = false after writes")
	}
	db, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var keys []string
	db.Engine().Iterate(nil, func(k, v []byte) error { keys = append(keys, string(k)); return nil })
	want := []string{string(OutKey("c1", 2)), string(RetainedKey("r/1")), string(SessionKey("c1")), string(SubKey("c1", "a/#"))}
	sort.Strings(want)
	if !reflect.DeepEqual(keys, want) {
		t.Fatalf("keys after reopen:\n%q\nwant\n%q", keys, want)
	}
	if v, ok, err := db.Engine().Get(OutKey("c1", 2)); !ok || err != nil || string(v) != "y" {
		t.Fatalf("Get = %q %v %v", v, ok, err)
	}
}

// fakeEngine counts applies and syncs, and can be made slow or failing.
type fakeEngine struct {
	mu      sync.Mutex
	data    map[string][]byte
	applies int
	syncs   int
	delay   time.Duration
	fail    error
	batches [][]Op
}

func (f *fakeEngine) Apply(ops []Op, sync bool) error {
	time.Sleep(f.delay) // simulated fsync latency, not a wait for an event
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.applies++
	if sync {
		f.syncs++
	}
	f.batches = append(f.batches, ops)
	for _, op := range ops {
		if op.Kind == Set {
			f.data[string(op.Key)] = op.Value
		} else {
			delete(f.data, string(op.Key))
		}
	}
	return nil
}
func (f *fakeEngine) Sync() error                                               { return nil }
func (f *fakeEngine) Iterate(p []byte, fn func(k, v []byte) error) error        { return nil }
func (f *fakeEngine) IterateFrom(p, s []byte, fn func(k, v []byte) error) error { return nil }
func (f *fakeEngine) Get(k []byte) ([]byte, bool, error)                        { return nil, false, nil }
func (f *fakeEngine) Close() error                                              { return nil }

func TestGroupCommit(t *testing.T) {
	f := &fakeEngine{data: map[string][]byte{}, delay: 2 * time.Millisecond}
	db := New(f, Options{})
	const writers, each = 64, 20
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				seq := db.Enqueue(Op{Key: OutKey("c", uint64(w*each+i)), Value: []byte{1}})
				if err := db.Wait(seq); err != nil {
					t.Error(err)
					return
				}
				// Once Wait returns, the write is applied.
				f.mu.Lock()
				_, ok := f.data[string(OutKey("c", uint64(w*each+i)))]
				f.mu.Unlock()
				if !ok {
					t.Error("Wait returned before the write was applied")
				}
			}
		}()
	}
	wg.Wait()
	db.Close()
	if len(f.data) != writers*each {
		t.Fatalf("%d keys, want %d", len(f.data), writers*each)
	}
	// 1280 acknowledged writes must share fsyncs: with 64 writers waiting
	// at once, far fewer syncs than writes.
	if f.syncs*4 > writers*each {
		t.Fatalf("%d syncs for %d writes: no group commit", f.syncs, writers*each)
	}
	t.Logf("%d writes, %d syncs", writers*each, f.syncs)
}

func TestHoldIsAtomic(t *testing.T) {
	f := &fakeEngine{data: map[string][]byte{}, delay: time.Millisecond}
	db := New(f, Options{})
	release := db.Hold()
	db.Enqueue(Op{Key: []byte("a"), Value: []byte{1}})
	// Another writer's op, enqueued inside the hold, and a wait that must
	// not complete before the hold ends.
	seq := db.Enqueue(Op{Key: []byte("other"), Value: []byte{1}})
	waited := make(chan struct{})
	go func() { db.Wait(seq); close(waited) }()
	select {
	case <-waited:
		t.Fatal("a write inside an open hold was committed")
	case <-time.After(20 * time.Millisecond):
	}
	last := db.Enqueue(Op{Key: []byte("b"), Value: []byte{1}})
	release()
	if err := db.Wait(last); err != nil {
		t.Fatal(err)
	}
	<-waited
	db.Close()
	// a, other and b are in one batch.
	for _, b := range f.batches {
		keys := ""
		for _, op := range b {
			keys += string(op.Key) + ","
		}
		if bytes.Contains([]byte(keys), []byte("a,")) && keys != "a,other,b," {
			t.Fatalf("hold split across batches: %q", keys)
		}
	}
}

func TestWriteErrorIsSticky(t *testing.T) {
	boom := errors.New("no space left on device")
	f := &fakeEngine{data: map[string][]byte{}, fail: boom}
	db := New(f, Options{})
	if err := db.Wait(db.Enqueue(Op{Key: []byte("a"), Value: []byte{1}})); !errors.Is(err, boom) {
		t.Fatalf("Wait = %v", err)
	}
	f.mu.Lock()
	f.fail = nil
	f.mu.Unlock()
	if err := db.Wait(db.Enqueue(Op{Key: []byte("b"), Value: []byte{1}})); !errors.Is(err, boom) {
		t.Fatalf("second Wait = %v, want the sticky error", err)
	}
	if db.Err() == nil {
		t.Fatal("Err = nil")
	}
	db.Close()
	if len(f.data) != 0 {
		t.Fatalf("writes applied after a failure: %v", f.data)
	}
}

func TestPeriodicModeDoesNotSyncPerBatch(t *testing.T) {
	f := &fakeEngine{data: map[string][]byte{}}
	db := New(f, Options{Sync: SyncPeriodic, Interval: time.Hour})
	for i := 0; i < 10; i++ {
		db.Wait(db.Enqueue(Op{Key: []byte{byte(i)}, Value: []byte{1}}))
	}
	db.Close()
	if f.syncs != 0 || len(f.data) != 10 {
		t.Fatalf("syncs %d, keys %d", f.syncs, len(f.data))
	}
}

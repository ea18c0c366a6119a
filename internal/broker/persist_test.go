package broker

import (
	"encoding/binary"
	"runtime"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/packet"
	"github.com/midgemq/midge/internal/session"
	"github.com/midgemq/midge/internal/store"
)

// persistServer is an in-process server over a Pebble store in dir.
func persistServer(t *testing.T, dir string, o Options) (*Server, *lockedBuf, *store.DB) {
	t.Helper()
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, buf := testServer(o)
	s.SetStore(db)
	if _, err := s.Restore(time.Now().Unix()); err != nil {
		t.Fatal(err)
	}
	return s, buf, db
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond) // polling interval, not a wait for an event
	}
}

// offline reports whether the session of id exists with no connection.
func offline(s *Server, id string) bool {
	s.mu.Lock()
	ss := s.sessions[id]
	s.mu.Unlock()
	if ss == nil {
		return false
	}
	ss.Mu.Lock()
	defer ss.Mu.Unlock()
	return ss.Conn == nil
}

// persistentSubscriber connects id with clean session 0, subscribes to t at
// QoS 1 and disconnects.
func persistentSubscriber(t *testing.T, s *Server, id string) {
	c := dialPipe(t, s)
	c.connect(&packet.Connect{ClientID: id, KeepAlive: 60})
	c.subscribe("t", 1)
	c.send(packet.AppendDisconnect(nil, c.v, &packet.Disconnect{}))
	waitFor(t, "the session to go offline", 5*time.Second, func() bool { return offline(s, id) })
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// receiveInOrder reconnects id and acknowledges n QoS 1 messages whose
// payloads start with their index (big-endian), checking the order.
func receiveInOrder(t *testing.T, s *Server, id string, n int) {
	c := dialPipe(t, s)
	c.connect(&packet.Connect{ClientID: id, KeepAlive: 60})
	for i := 0; i < n; i++ {
		p, ok := c.read().(*packet.Publish)
		if !ok {
			t.Fatalf("message %d: not a PUBLISH", i)
		}
		if got := int(binary.BigEndian.Uint64(p.Payload)); got != i || p.QoS != 1 {
			t.Fatalf("message %d: got %d (QoS %d)", i, got, p.QoS)
		}
		c.send(packet.AppendAck(nil, c.v, &packet.Ack{Type: packet.PUBACK, PacketID: p.PacketID}))
	}
}

// TestOfflineQueueSpillsToStore: 200k QoS 1 messages queued for an offline
// persistent session live in the store, not on the heap (all but
// max_queued_in_memory of them), and all of them arrive in order on
// reconnect, read back from the store as the window drains.
func TestOfflineQueueSpillsToStore(t *testing.T) {
	n := 200_000
	if testing.Short() {
		n = 20_000
	}
	o := DefaultOptions()
	o.Limits.MaxQueued = 0 // unlimited
	s, _, db := persistServer(t, t.TempDir(), o)
	defer db.Close()
	persistentSubscriber(t, s, "sub")

	const size = 100
	before := heapInUse()
	for i := 0; i < n; i++ {
		p := make([]byte, size)
		binary.BigEndian.PutUint64(p, uint64(i))
		s.Publish(&session.Message{Topic: "t", QoS: 1, Payload: p})
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	grown := int64(heapInUse()) - int64(before)
	s.mu.Lock()
	ss := s.sessions["sub"]
	s.mu.Unlock()
	ss.Mu.Lock()
	_, queued := ss.Counts()
	spilled, _ := ss.Spilled()
	ss.Mu.Unlock()
	t.Logf("%d messages of %d bytes queued (%d only in the store): heap grew by %d bytes (%.1f per message)",
		queued, size, spilled, grown, float64(grown)/float64(n))
	if queued != n || spilled != n-o.MaxQueuedInMemory {
		t.Fatalf("queued %d, spilled %d", queued, spilled)
	}
	// Payloads alone would be n*size bytes; in RAM each queued message
	// costs about 3x that with its Message and Outbound.
	if limit := int64(n) * size / 4; grown > limit {
		t.Fatalf("heap grew by %d bytes for %d queued messages (limit %d)", grown, n, limit)
	}
	start := time.Now()
	receiveInOrder(t, s, "sub", n)
	t.Logf("received %d messages in order in %v", n, time.Since(start))
}

// TestSpilledQueueSurvivesRestart: spilled messages are counted at
// restore, not loaded, and arrive in order after the restart.
func TestSpilledQueueSurvivesRestart(t *testing.T) {
	const n = 5000
	dir := t.TempDir()
	o := DefaultOptions()
	o.Limits.MaxQueued = 0
	o.MaxQueuedInMemory = 100
	s, _, db := persistServer(t, dir, o)
	persistentSubscriber(t, s, "sub")
	for i := 0; i < n; i++ {
		p := make([]byte, 8)
		binary.BigEndian.PutUint64(p, uint64(i))
		s.Publish(&session.Message{Topic: "t", QoS: 1, Payload: p})
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s2, _, db2 := persistServer(t, dir, o)
	defer db2.Close()
	s2.mu.Lock()
	ss := s2.sessions["sub"]
	s2.mu.Unlock()
	ss.Mu.Lock()
	_, queued := ss.Counts()
	spilled, _ := ss.Spilled()
	ss.Mu.Unlock()
	if queued != n || spilled != n-100 {
		t.Fatalf("restored %d queued, %d spilled", queued, spilled)
	}
	receiveInOrder(t, s2, "sub", n)
}

// TestSpillKeepsQueueLimit: max_queued_messages counts spilled messages.
func TestSpillKeepsQueueLimit(t *testing.T) {
	o := DefaultOptions()
	o.Limits.MaxQueued = 50
	o.MaxQueuedInMemory = 10
	s, _, db := persistServer(t, t.TempDir(), o)
	defer db.Close()
	persistentSubscriber(t, s, "sub")
	for i := 0; i < 80; i++ {
		p := make([]byte, 8)
		binary.BigEndian.PutUint64(p, uint64(i))
		s.Publish(&session.Message{Topic: "t", QoS: 1, Payload: p})
	}
	if d := s.Stats.Dropped[DropQueueFull].Load(); d != 30 {
		t.Fatalf("dropped %d, want 30", d)
	}
	receiveInOrder(t, s, "sub", 50)
}

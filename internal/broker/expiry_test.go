package broker

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/packet"
	"github.com/midgemq/midge/internal/session"
)

// dueOf returns the due time s.offline holds for client id, and whether it
// holds one.
func dueOf(s *Server, id string) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sessions[id]
	if ss == nil {
		return 0, false
	}
	at, ok := s.offline[ss]
	return at, ok
}

func disconnectedAt(s *Server, id string) int64 {
	s.mu.Lock()
	ss := s.sessions[id]
	s.mu.Unlock()
	ss.Mu.Lock()
	defer ss.Mu.Unlock()
	return ss.DisconnectedAt
}

// TestExpiryIndex: the expiry loop's index holds each offline session that
// something will come due for, under the earliest due time: its expiry, or
// its held will's delay [MQTT5-3.1.2-8]; never an online session, nor one
// kept for ever with no will. A will published moves the session to its
// expiry; a reconnect takes it out.
func TestExpiryIndex(t *testing.T) {
	s, _ := testServer(DefaultOptions())
	v5 := func(id string, expiry uint32) *packet.Connect {
		cp := &packet.Connect{Version: packet.V5, ClientID: id, KeepAlive: 60}
		cp.Props.SessionExpiry, cp.Props.HasSessionExpiry = expiry, true
		return cp
	}
	on := dialPipe(t, s)
	on.connect(v5("on", 100))
	off := dialPipe(t, s)
	off.connect(v5("off", 60))
	off.send(packet.AppendDisconnect(nil, off.v, &packet.Disconnect{}))
	forever := dialPipe(t, s)
	forever.connect(&packet.Connect{ClientID: "forever", KeepAlive: 60}) // 3.1.1, not clean: never expires
	forever.send(packet.AppendDisconnect(nil, forever.v, &packet.Disconnect{}))
	w := dialPipe(t, s)
	cw := v5("will", 300)
	cw.WillFlag, cw.WillTopic, cw.WillPayload = true, "gone", []byte("x")
	cw.WillProps.WillDelay, cw.WillProps.HasWillDelay = 10, true
	w.connect(cw)
	w.nc.Close() // no DISCONNECT: the will is held for its delay
	for _, id := range []string{"off", "forever", "will"} {
		waitFor(t, id+" to go offline", 5*time.Second, func() bool { return offline(s, id) })
	}

	if _, ok := dueOf(s, "on"); ok {
		t.Error("an online session is in the index")
	}
	if _, ok := dueOf(s, "forever"); ok {
		t.Error("a session that never expires, with no will, is in the index")
	}
	offAt, willAt := disconnectedAt(s, "off"), disconnectedAt(s, "will")
	if at, ok := dueOf(s, "off"); !ok || at != offAt+60 {
		t.Errorf("off due %d %v, want %d", at, ok, offAt+60)
	}
	if at, ok := dueOf(s, "will"); !ok || at != willAt+10 {
		t.Errorf("will due %d %v, want its will's delay %d", at, ok, willAt+10)
	}

	s.expireSessions(willAt + 10) // the will is published; the session stays
	if at, ok := dueOf(s, "will"); !ok || at != willAt+300 {
		t.Errorf("after its will, due %d %v, want its expiry %d", at, ok, willAt+300)
	}
	s.expireSessions(offAt + 60)
	if s.SessionCount() != 3 || s.Stats.ClientsExpired.Load() != 1 {
		t.Fatalf("sessions %d, expired %d: want off expired", s.SessionCount(), s.Stats.ClientsExpired.Load())
	}
	s.mu.Lock()
	n := len(s.offline)
	s.mu.Unlock()
	if n != 1 {
		t.Errorf("index holds %d sessions, want 1 (will)", n)
	}

	back := dialPipe(t, s)
	back.connect(v5("will", 300))
	if _, ok := dueOf(s, "will"); ok {
		t.Error("a resumed session is still in the index")
	}
}

// TestExpiryLeavesOnlineSessionsAlone: the once-a-second expiry takes no
// lock of a connected client's session (it used to walk every session
// under s.mu, holding each CONNECT up for milliseconds at 15,000 clients):
// with one such lock held elsewhere it still returns.
func TestExpiryLeavesOnlineSessionsAlone(t *testing.T) {
	s, _ := testServer(DefaultOptions())
	c := dialPipe(t, s)
	c.connect(&packet.Connect{ClientID: "busy", KeepAlive: 60})
	s.mu.Lock()
	ss := s.sessions["busy"]
	s.mu.Unlock()
	ss.Mu.Lock()
	done := make(chan struct{})
	go func() { s.expireSessions(time.Now().Unix() + 1e6); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		ss.Mu.Unlock()
		<-done
		t.Fatal("expireSessions waited for an online session's lock")
	}
	ss.Mu.Unlock()
}

// TestExpiryIndexRestored: sessions restored from the store are filed in
// the index under their stored disconnect time, so they still expire.
func TestExpiryIndexRestored(t *testing.T) {
	dir := t.TempDir()
	s, _, db := persistServer(t, dir, DefaultOptions())
	c := dialPipe(t, s)
	cp := &packet.Connect{Version: packet.V5, ClientID: "r", KeepAlive: 60}
	cp.Props.SessionExpiry, cp.Props.HasSessionExpiry = 100, true
	c.connect(cp)
	c.send(packet.AppendDisconnect(nil, c.v, &packet.Disconnect{}))
	waitFor(t, "r to go offline", 5*time.Second, func() bool { return offline(s, "r") })
	at := disconnectedAt(s, "r")
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s2, _, db2 := persistServer(t, dir, DefaultOptions())
	defer db2.Close()
	if due, ok := dueOf(s2, "r"); !ok || due != at+100 {
		t.Fatalf("restored r due %d %v, want %d", due, ok, at+100)
	}
	s2.expireSessions(at + 99)
	if s2.SessionCount() != 1 {
		t.Fatal("expired before its time")
	}
	s2.expireSessions(at + 100)
	if s2.SessionCount() != 0 || s2.Stats.ClientsExpired.Load() != 1 {
		t.Fatalf("sessions %d, expired %d: want r expired", s2.SessionCount(), s2.Stats.ClientsExpired.Load())
	}
}

// TestTakenOverDisconnectLeavesSuccessor: a DISCONNECT that a connection
// had already sent when it was taken over changes nothing of its
// successor's session: not its expiry (under which the expiry index files
// it) nor its will.
func TestTakenOverDisconnectLeavesSuccessor(t *testing.T) {
	s, _ := testServer(DefaultOptions())
	l := &listener{spec: Listener{MaxQoS: 2, MaxConnections: -1}}
	a1, a2 := net.Pipe()
	b1, b2 := net.Pipe()
	t.Cleanup(func() { a2.Close(); b2.Close() })
	old, succ := newConn(s, l, a1, "127.0.0.1", 1), newConn(s, l, b1, "127.0.0.1", 2)
	ss := session.New("x", session.Limits{})
	ss.Expiry, ss.Conn = 100, succ
	ss.Will = &session.Will{Msg: &session.Message{Topic: "w"}}
	old.sess, old.version, old.id = ss, packet.V5, "x"
	d := &packet.Disconnect{}
	d.Props.SessionExpiry, d.Props.HasSessionExpiry = 0, true
	old.handleDisconnect(d)
	ss.Mu.Lock()
	defer ss.Mu.Unlock()
	if ss.Expiry != 100 || ss.Will == nil {
		t.Fatalf("successor's session changed: expiry %d, will %v", ss.Expiry, ss.Will)
	}
}

// BenchmarkExpireSessions: one expiry tick with 15,000 connected clients,
// all of whose sessions a walk of every session would lock in turn.
func BenchmarkExpireSessions(b *testing.B) {
	s, _ := testServer(DefaultOptions())
	for i := range 15000 {
		ss := session.New("c"+strconv.Itoa(i), session.Limits{})
		ss.Conn = &conn{}
		s.sessions[ss.ID] = ss
	}
	now := time.Now().Unix()
	b.ResetTimer()
	for range b.N {
		s.expireSessions(now)
	}
}

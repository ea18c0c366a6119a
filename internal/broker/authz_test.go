package broker

import (
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/packet"
	"github.com/midgemq/midge/internal/session"
	"github.com/midgemq/midge/internal/store"
)

// readAuth lets everyone log in; "secret/..." may be read by alice only.
type readAuth struct{}

func (readAuth) Login(Client, []byte, bool) bool { return true }
func (readAuth) Allow(c Client, topic string, a Access) bool {
	return a != AccessRead || !strings.HasPrefix(topic, "secret/") || c.Username == "alice"
}

// dialAuth is dialPipe on a listener whose Auth is au.
func dialAuth(t *testing.T, s *Server, au Auth) *pipeClient {
	t.Helper()
	return dialPipeSec(t, s, Security{AllowAnonymous: true, Auth: au})
}

// quietFor reports whether nothing arrives on p within d.
func (p *pipeClient) quietFor(d time.Duration) bool {
	p.nc.SetReadDeadline(time.Now().Add(d))
	var one [1]byte
	_, err := p.nc.Read(one[:])
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// TestResumeRechecksRead: a persistent session resumed under another
// username gets none of the messages, in flight, queued in memory or
// spilled to the store, that the new username may not read (reference
// §6.2), and the dropped ones leave the store.
func TestResumeRechecksRead(t *testing.T) {
	t.Parallel()
	o := DefaultOptions()
	o.MaxQueuedInMemory = 2
	s, _, db := persistServer(t, t.TempDir(), o)
	defer db.Close()

	alice := dialAuth(t, s, readAuth{})
	alice.connect(&packet.Connect{ClientID: "roam", KeepAlive: 60, UsernameFlag: true, Username: "alice"})
	alice.subscribe("#", 1)
	s.Publish(&session.Message{Topic: "secret/0", QoS: 1, Payload: []byte("0")})
	if p, ok := alice.read().(*packet.Publish); !ok || p.Topic != "secret/0" {
		t.Fatalf("alice got %#v", p)
	}
	alice.nc.Close() // secret/0 stays in flight
	waitFor(t, "the session to go offline", 5*time.Second, func() bool { return offline(s, "roam") })
	for _, tp := range []string{"secret/1", "secret/2", "open/1", "secret/3", "secret/4", "open/2"} {
		s.Publish(&session.Message{Topic: tp, QoS: 1, Payload: []byte(tp)})
	}
	s.mu.Lock()
	ss := s.sessions["roam"]
	s.mu.Unlock()
	ss.Mu.Lock()
	inflight, queued := ss.Counts()
	spilled, _ := ss.Spilled()
	ss.Mu.Unlock()
	if inflight != 1 || queued != 6 || spilled != 4 {
		t.Fatalf("before resume: %d in flight, %d queued, %d spilled", inflight, queued, spilled)
	}

	bob := dialAuth(t, s, readAuth{})
	bob.connect(&packet.Connect{ClientID: "roam", KeepAlive: 60, UsernameFlag: true, Username: "bob"})
	for _, want := range []string{"open/1", "open/2"} {
		p, ok := bob.read().(*packet.Publish)
		if !ok || p.Topic != want {
			t.Fatalf("bob got %#v, want %s", p, want)
		}
		bob.send(packet.AppendAck(nil, bob.v, &packet.Ack{Type: packet.PUBACK, PacketID: p.PacketID}))
	}
	if !bob.quietFor(200 * time.Millisecond) {
		t.Fatal("bob got more")
	}
	waitFor(t, "the queue to empty", 5*time.Second, func() bool {
		ss.Mu.Lock()
		defer ss.Mu.Unlock()
		i, q := ss.Counts()
		return i == 0 && q == 0
	})
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	var left []string
	db.Engine().Iterate(store.OutPrefix("roam"), func(k, v []byte) error {
		if o, err := store.DecodeOutbound(v); err == nil {
			left = append(left, o.Msg.Topic)
		}
		return nil
	})
	if len(left) != 0 {
		t.Fatalf("store still holds %v", left)
	}
}

// recheckAuth admits everyone at CONNECT. Once armed (a reload), it refuses
// client "gone" and holds the Login of client "held" until release closes.
type recheckAuth struct {
	armed            *atomic.Bool
	entered, release chan struct{}
}

func (a recheckAuth) Login(c Client, _ []byte, _ bool) bool {
	if !a.armed.Load() {
		return true
	}
	switch c.ID {
	case "held":
		close(a.entered)
		<-a.release
	case "gone":
		return false
	}
	return true
}
func (recheckAuth) Allow(Client, string, Access) bool { return true }

// TestRecheckHoldsNoLock: a reload's recheck logs clients in again with no
// lock held (a login may hash a password), so a CONNECT meanwhile is not
// held up; a client the new settings refuse is still disconnected.
func TestRecheckHoldsNoLock(t *testing.T) {
	s, log := testServer(DefaultOptions())
	au := recheckAuth{armed: new(atomic.Bool), entered: make(chan struct{}), release: make(chan struct{})}
	held, gone := dialAuth(t, s, au), dialAuth(t, s, au)
	held.connect(&packet.Connect{ClientID: "held", CleanStart: true})
	gone.connect(&packet.Connect{ClientID: "gone", CleanStart: true})
	au.armed.Store(true)
	done := make(chan struct{})
	go func() { s.Recheck(); close(done) }()
	<-au.entered
	if !s.mu.TryLock() {
		close(au.release)
		t.Fatal("the sessions' lock is held while a client logs in")
	}
	s.mu.Unlock()
	close(au.release)
	<-done
	waitFor(t, "gone's disconnect line", 5*time.Second, func() bool { return log.count("Client gone disconnected.") == 1 })
	if log.count("Client held disconnected") != 0 {
		t.Fatal("held was disconnected")
	}
}

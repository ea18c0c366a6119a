package broker

import (
	"bytes"
	"testing"

	"github.com/midgemq/midge/internal/logging"
	"github.com/midgemq/midge/internal/session"
)

// TestForwarderSeesLocalNotPeerTraffic: the routing core feeds a bridge or
// cluster link every locally routed message, and messages injected from a
// peer are delivered locally without being sent back to it.
func TestForwarderSeesLocalNotPeerTraffic(t *testing.T) {
	s := New(logging.NewWriter(&bytes.Buffer{}, logging.Options{}), DefaultOptions())
	var seen []string
	s.SetForwarder(func(m *session.Message) { seen = append(seen, m.Topic) })
	s.Publish(&session.Message{Topic: "local/a", Payload: []byte("1")})
	s.PublishFromPeer(&session.Message{Topic: "peer/b", Payload: []byte("2"), Retain: true})
	if len(seen) != 1 || seen[0] != "local/a" {
		t.Fatalf("forwarder saw %v, want [local/a]", seen)
	}
	if _, ok := s.retained.Get("peer/b"); !ok {
		t.Error("a retained message from a peer must be stored locally")
	}
	s.SetForwarder(nil)
	s.Publish(&session.Message{Topic: "local/c"})
	if len(seen) != 1 {
		t.Errorf("forwarder called after removal: %v", seen)
	}
}

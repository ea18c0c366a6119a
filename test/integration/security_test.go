package integration

import (
	"path/filepath"
	"testing"

	"github.com/midgemq/midge/internal/packet"
)

// Security gaps closed after the first pass of issue 5, each with a
// negative test (docs/SECURITY.md).

// persistentUser connects id with clean session 0 as user.
func persistentUser(t *testing.T, b *Broker, id, user, pass string) (*rawClient, *packet.Connack) {
	t.Helper()
	r := dialRaw(t, b.Addr)
	return r, r.connect(&packet.Connect{ClientID: id, KeepAlive: 60,
		UsernameFlag: true, Username: user, PasswordFlag: true, Password: []byte(pass)})
}

// TestResumedSessionRecheckedForRead: messages queued for a persistent
// session while alice owned it are checked again when bob resumes it under
// the same client id (reference §6.2): bob gets only what he may read, and
// the dropped message is gone for good.
func TestResumedSessionRecheckedForRead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	makePasswd(t, pw, "alice", "a", "bob", "b")
	acl := writeFile(t, dir, "acl", "user alice\ntopic readwrite q/#\n\nuser bob\ntopic read q/public/#\n")
	b := StartBroker(t, "password_file "+pw+"\nacl_file "+acl+"\n")

	a, _ := persistentUser(t, b, "roam", "alice", "a")
	a.subscribe(1, 1, "q/#")
	a.disconnect()
	pub, _ := userConnect(t, b.Addr, packet.V311, "pub", "alice", "a")
	pub.publish(&packet.Publish{Topic: "q/private/1", QoS: 1, PacketID: 1, Payload: []byte("p")})
	pub.expectAck(packet.PUBACK, 1)
	pub.publish(&packet.Publish{Topic: "q/public/1", QoS: 1, PacketID: 2, Payload: []byte("o")})
	pub.expectAck(packet.PUBACK, 2)

	bob, ack := persistentUser(t, b, "roam", "bob", "b")
	if ack.Code != 0 || !ack.SessionPresent {
		t.Fatalf("bob: CONNACK %#v", ack)
	}
	m := bob.expectPublish()
	if m.Topic != "q/public/1" {
		t.Fatalf("bob got %q", m.Topic)
	}
	bob.ack(packet.PUBACK, m.PacketID)
	bob.expectNothing()
	bob.disconnect()

	// Dropped, not kept for a later owner who may read it.
	a2, _ := persistentUser(t, b, "roam", "alice", "a")
	a2.expectNothing()
}

package integration

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
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

// TestFileOwnerWarnings: a password or ACL file that midge's user or group
// does not own is loaded with Mosquitto 2.0.16's warnings (reference §1.12;
// the owner line has no space after its first period, as in Mosquitto).
func TestFileOwnerWarnings(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("needs root to give files to another user")
	}
	me, err := user.LookupId(strconv.Itoa(os.Getuid()))
	if err != nil {
		t.Fatal(err)
	}
	grp, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	makePasswd(t, pw, "alice", "a")
	acl := writeFile(t, dir, "acl", "user alice\ntopic a/#\n")
	// The password file belongs to someone else entirely; the ACL file only
	// to another group.
	if err := os.Chown(pw, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(acl, os.Getuid(), 65534); err != nil {
		t.Fatal(err)
	}
	b := StartBroker(t, "password_file "+pw+"\nacl_file "+acl+"\n")
	got := strings.Join(b.Lines(), "\n")
	for _, w := range []string{
		"Warning: File " + pw + " owner is not " + me.Username + ". Future versions will refuse to load this file.To fix this, use `chown " + me.Username + " " + pw + "`.",
		"Warning: File " + pw + " group is not " + grp.Name + ". Future versions will refuse to load this file.",
		"Warning: File " + acl + " group is not " + grp.Name + ". Future versions will refuse to load this file.",
	} {
		if !strings.Contains(got, w+"\n") {
			t.Errorf("log lacks %q", w)
		}
	}
	if strings.Contains(got, "File "+acl+" owner") || strings.Contains(got, "world readable") {
		t.Errorf("unexpected warning:\n%s", got)
	}
	// The files are used all the same.
	if _, ack := userConnect(t, b.Addr, packet.V311, "c", "alice", "a"); ack.Code != 0 {
		t.Fatalf("CONNACK %d", ack.Code)
	}
}

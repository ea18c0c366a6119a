package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

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

// TestMaxConnectionsCountsPendingHandshakes: a socket counts against its
// listener's max_connections from accept, before its TLS handshake or its
// websocket upgrade (reference §6.13): with one silent socket open, the next
// client is refused with Mosquitto's line, and admitted once it closes.
func TestMaxConnectionsCountsPendingHandshakes(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	wp, wsp, tp := freePort(t), freePort(t), freePort(t)
	b := StartBroker(t, fmt.Sprintf("listener PORT 127.0.0.1\n"+
		"listener %[1]d 127.0.0.1\nprotocol websockets\nmax_connections 1\n"+
		"listener %[2]d 127.0.0.1\nprotocol websockets\nmax_connections 1\ncertfile %[4]s\nkeyfile %[5]s\n"+
		"listener %[3]d 127.0.0.1\nmax_connections 1\ncertfile %[4]s\nkeyfile %[5]s\n",
		wp, wsp, tp, p.serverCert, p.serverKey))
	b.WaitLog(t, "running$", 10*time.Second)
	roots := x509.NewCertPool()
	roots.AddCert(p.ca.cert)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost"}}}
	clients := []struct {
		name string
		port int
		try  func() error
	}{
		{"ws", wp, func() error { return tryWS(fmt.Sprintf("ws://127.0.0.1:%d/", wp), nil) }},
		{"wss", wsp, func() error { return tryWS(fmt.Sprintf("wss://127.0.0.1:%d/", wsp), hc) }},
		{"tls", tp, func() error {
			r, err := dialTLS(t, p, tp, nil, nil)
			if err == nil {
				_, err = tryConnect(r, connectPacket("tls-max"))
			}
			return err
		}},
	}
	for _, c := range clients {
		mark := b.Mark()
		hold := dialRaw(t, fmt.Sprintf("127.0.0.1:%d", c.port)) // no handshake, no upgrade
		if err := c.try(); err == nil {
			t.Errorf("%s: second connection admitted", c.name)
		}
		b.WaitLogFrom(t, mark, q("Client connection from 127.0.0.1 denied: max_connections exceeded."), 5*time.Second)
		hold.nc.Close()
		eventually(t, 5*time.Second, c.name+" admitted after the silent socket closed", func() bool { return c.try() == nil })
	}
}

// tryWS opens a websocket, sends CONNECT and waits for CONNACK 0.
func tryWS(url string, hc *http.Client) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"mqtt"}, HTTPClient: hc})
	if err != nil {
		return err
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageBinary, packet.AppendConnect(nil, connectPacket("ws-max"))); err != nil {
		return err
	}
	_, data, err := c.Read(ctx)
	if err != nil {
		return err
	}
	if len(data) != 4 || data[0] != 0x20 || data[3] != 0 {
		return fmt.Errorf("CONNACK % x", data)
	}
	return nil
}

// TestCheckRetainSource: with check_retain_source true, a retained message
// whose publisher has since lost write access to its topic is not sent to
// new subscribers; with the default (false, as Mosquitto's code) it is.
func TestCheckRetainSource(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprint(on), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			pw := filepath.Join(dir, "passwd")
			makePasswd(t, pw, "alice", "a", "bob", "b")
			acl := writeFile(t, dir, "acl", "user alice\ntopic readwrite r/#\nuser bob\ntopic read r/#\n")
			b := StartBroker(t, fmt.Sprintf("password_file %s\nacl_file %s\ncheck_retain_source %v\nlog_type all\n", pw, acl, on))
			alice, _ := userConnect(t, b.Addr, packet.V311, "alice-rs", "alice", "a")
			alice.publish(&packet.Publish{Topic: "r/x", QoS: 1, PacketID: 1, Retain: true, Payload: []byte("v")})
			alice.expectAck(packet.PUBACK, 1)
			// While alice may still write r/x, bob gets it either way.
			bob, _ := userConnect(t, b.Addr, packet.V311, "bob-rs", "bob", "b")
			bob.subscribe(1, 0, "r/#")
			if m := bob.expectPublish(); m.Topic != "r/x" || !m.Retain {
				t.Fatalf("bob got %#v", m)
			}
			// Alice loses write access; wait until the reload is in force.
			writeFile(t, dir, "acl", "user alice\ntopic read r/#\nuser bob\ntopic read r/#\n")
			mark := b.Mark()
			b.Signal(syscall.SIGHUP)
			eventually(t, 5*time.Second, "the new ACL", func() bool {
				alice.publish(&packet.Publish{Topic: "r/probe", Payload: []byte("p")})
				return b.countLines(mark, `^Denied PUBLISH from alice-rs .*'r/probe'`) > 0
			})
			bob2, _ := userConnect(t, b.Addr, packet.V311, "bob-rs2", "bob", "b")
			bob2.subscribe(1, 0, "r/#")
			if on {
				bob2.expectNothing()
			} else if m := bob2.expectPublish(); m.Topic != "r/x" {
				t.Fatalf("bob got %#v", m)
			}
		})
	}
}

// TestNoEscapeFromMountPointOrIntoSYS: a client on a listener with a
// mount_point sees only topics under it, whatever its filter ('#',
// '$share/g/#', '$SYS/#'), retained messages included; and an ACL 'topic
// read #' does not grant $SYS, while 'topic read $SYS/#' does.
func TestNoEscapeFromMountPointOrIntoSYS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	makePasswd(t, pw, "all", "a", "sys", "s", "mp", "m")
	acl := writeFile(t, dir, "acl", "user all\ntopic readwrite #\nuser sys\ntopic read $SYS/#\nuser mp\ntopic readwrite #\n")
	mpPort := freePort(t)
	b := StartBroker(t, fmt.Sprintf("per_listener_settings false\npassword_file %s\nacl_file %s\nsys_interval 1\n"+
		"listener PORT 127.0.0.1\nlistener %d 127.0.0.1\nmount_point tenant/\n", pw, acl, mpPort))
	b.WaitLog(t, "running$", 10*time.Second)
	mpAddr := fmt.Sprintf("127.0.0.1:%d", mpPort)

	pub, _ := userConnect(t, b.Addr, packet.V311, "pub", "all", "a")
	pub.publish(&packet.Publish{Topic: "other/r", QoS: 1, PacketID: 1, Retain: true, Payload: []byte("r")})
	pub.expectAck(packet.PUBACK, 1)
	pub.publish(&packet.Publish{Topic: "tenant/r", QoS: 1, PacketID: 2, Retain: true, Payload: []byte("r")})
	pub.expectAck(packet.PUBACK, 2)

	sys, _ := userConnect(t, b.Addr, packet.V311, "sys-c", "sys", "s")
	sys.subscribe(1, 0, "$SYS/broker/uptime")
	if m := sys.expectPublish(); m.Topic != "$SYS/broker/uptime" {
		t.Fatalf("sys got %q", m.Topic)
	}
	all, _ := userConnect(t, b.Addr, packet.V311, "all-c", "all", "a")
	all.subscribe(1, 0, "$SYS/broker/uptime")
	all.expectNothing()

	// The retained tenant/r arrives as "r"; nothing else, $SYS included.
	var subs []*rawClient
	for i, f := range []string{"#", "$share/g/#", "$SYS/#", "+/r"} {
		c, _ := userConnect(t, mpAddr, packet.V311, fmt.Sprintf("mp-%d", i), "mp", "m")
		c.subscribe(1, 0, f)
		if f == "#" {
			if m := c.expectPublish(); m.Topic != "r" || !m.Retain {
				t.Fatalf("%s: got %#v", f, m)
			}
		}
		subs = append(subs, c) // anything else shows up below
	}
	pub.publish(&packet.Publish{Topic: "other/x", Payload: []byte("x")})
	pub.publish(&packet.Publish{Topic: "tenant/x", Payload: []byte("x")})
	for i, want := range []string{"x", "x", "", ""} {
		if want != "" {
			if m := subs[i].expectPublish(); m.Topic != want {
				t.Fatalf("sub %d got %q", i, m.Topic)
			}
		}
		subs[i].expectNothing()
	}
	// What a mounted client publishes stays under its mount point.
	all.subscribe(2, 0, "y", "tenant/y")
	subs[0].publish(&packet.Publish{Topic: "y", Payload: []byte("y")})
	if m := subs[0].expectPublish(); m.Topic != "y" {
		t.Fatalf("mp got %q", m.Topic)
	}
	if m := all.expectPublish(); m.Topic != "tenant/y" {
		t.Fatalf("all got %q", m.Topic)
	}
	all.expectNothing()
}

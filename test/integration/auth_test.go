package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/packet"
)

// Users and permissions (issue 5): password_file, acl_file, anonymous
// access, per_listener_settings and SIGHUP reload, checked with Debian's
// mosquitto tools and raw clients (reference §1.12, §2.5, §4).

const debianPasswd = "/usr/bin/mosquitto_passwd"

// writeFile writes a 0600 file in dir and returns its path.
func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// makePasswd creates a password file with Debian's mosquitto_passwd when
// available (midge passwd otherwise): each pair is user, password; a
// "sha512:" prefix on the user picks the $6$ hash.
func makePasswd(t *testing.T, path string, pairs ...string) {
	t.Helper()
	tool, pre := debianPasswd, []string{}
	if _, err := os.Stat(tool); err != nil {
		tool, pre = midgeBin, []string{"passwd"}
	}
	for i := 0; i < len(pairs); i += 2 {
		args := append([]string{}, pre...)
		user := pairs[i]
		if u, ok := strings.CutPrefix(user, "sha512:"); ok {
			user = u
			args = append(args, "-H", "sha512")
		}
		if i == 0 {
			args = append(args, "-c")
		}
		args = append(args, "-b", path, user, pairs[i+1])
		if out, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", tool, args, err, out)
		}
	}
	os.Chmod(path, 0o600)
}

// userConnect dials and sends a CONNECT with credentials (user "" = none).
func userConnect(t *testing.T, addr string, v byte, id, user, pass string) (*rawClient, *packet.Connack) {
	t.Helper()
	r := dialRaw(t, addr)
	c := &packet.Connect{ClientID: id, CleanStart: true, KeepAlive: 60}
	if v == packet.V5 {
		c.ProtocolName, c.ProtocolLevel, c.Version = "MQTT", 5, 5
	}
	if user != "" {
		c.UsernameFlag, c.Username = true, user
	}
	if pass != "" {
		c.PasswordFlag, c.Password = true, []byte(pass)
	}
	return r, r.connect(c)
}

func TestPasswordFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	makePasswd(t, pw, "alice", "secret", "sha512:bob", "hunter2")
	b := StartBroker(t, logAll+"allow_anonymous true\npassword_file "+pw+"\n")

	// Files written by mosquitto_passwd ($7$ and $6$) log users in.
	for _, u := range [][2]string{{"alice", "secret"}, {"bob", "hunter2"}} {
		r, ack := userConnect(t, b.Addr, packet.V311, "ok-"+u[0], u[0], u[1])
		if ack.Code != 0 {
			t.Fatalf("%s: CONNACK %d", u[0], ack.Code)
		}
		r.disconnect()
	}
	mosquittoPub(t, b, "-u", "alice", "-P", "secret", "-t", "a/b", "-m", "hi", "-i", "tool-pub")
	b.WaitLog(t, `^Received PUBLISH from tool-pub `, 5*time.Second)
	// Anonymous clients are still welcome (allow_anonymous true).
	if _, ack := userConnect(t, b.Addr, packet.V311, "anon", "", ""); ack.Code != 0 {
		t.Fatalf("anonymous: CONNACK %d", ack.Code)
	}

	refusals := []struct {
		name, id, user, pass string
		v                    byte
		code                 packet.ReasonCode
	}{
		{"wrong password", "cli-pw", "alice", "wrong", packet.V311, 5},
		{"wrong password v5", "cli-pw5", "alice", "wrong", packet.V5, 135},
		{"missing password", "cli-nopw", "alice", "", packet.V311, 5},
		// A username that is not in the file is refused even though
		// anonymous access is allowed (reference §4.2).
		{"unknown user", "cli-who", "mallory", "secret", packet.V311, 5},
		{"password of another user", "cli-swap", "bob", "secret", packet.V311, 5},
	}
	for _, rc := range refusals {
		mark := b.Mark()
		r, ack := userConnect(t, b.Addr, rc.v, rc.id, rc.user, rc.pass)
		if ack.Code != rc.code {
			t.Errorf("%s: CONNACK %d, want %d", rc.name, ack.Code, rc.code)
		}
		r.expectClosed(5 * time.Second)
		b.waitLines(t, mark,
			fmt.Sprintf(`^Sending CONNACK to %s \(0, %d\)$`, rc.id, rc.code),
			fmt.Sprintf(`^Client %s disconnected, not authorised\.$`, rc.id))
	}
	for _, l := range b.Lines() {
		if strings.Contains(l, "New client connected") && strings.Contains(l, "cli-") {
			t.Errorf("refused client logged as connected: %s", l)
		}
	}
	out, err := exec.Command("mosquitto_pub", "-h", "127.0.0.1", "-p", fmt.Sprint(b.Port), "-u", "alice", "-P", "nope", "-t", "x", "-m", "y").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "not authorised") {
		t.Errorf("mosquitto_pub with a wrong password: %v %s", err, out)
	}
}

// A failed login waits before its CONNACK, in its own connection only:
// another client logs in meanwhile without waiting.
func TestFailedLoginDelay(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	makePasswd(t, pw, "alice", "secret")
	b := StartBroker(t, "allow_anonymous false\npassword_file "+pw+"\n")
	type result struct {
		code packet.ReasonCode
		took time.Duration
	}
	bad := make(chan result, 1)
	go func() {
		start := time.Now()
		r := dialRaw(t, b.Addr)
		c := &packet.Connect{ClientID: "guesser", CleanStart: true, UsernameFlag: true, Username: "alice", PasswordFlag: true, Password: []byte("guess")}
		c.ProtocolName, c.ProtocolLevel, c.Version = "MQTT", 4, 4
		r.nc.Write(packet.AppendConnect(nil, c))
		p, err := r.tryRead(10 * time.Second)
		ack, _ := p.(*packet.Connack)
		if err != nil || ack == nil {
			bad <- result{255, time.Since(start)}
			return
		}
		bad <- result{ack.Code, time.Since(start)}
	}()
	b.WaitLog(t, `^New connection from .* on port`, 5*time.Second)
	start := time.Now()
	if _, ack := userConnect(t, b.Addr, packet.V311, "good", "alice", "secret"); ack.Code != 0 {
		t.Fatalf("CONNACK %d", ack.Code)
	}
	goodTook := time.Since(start)
	res := <-bad
	if res.code != 5 || res.took < 900*time.Millisecond {
		t.Errorf("failed login: CONNACK %d after %v, want 5 after about 1s", res.code, res.took)
	}
	if goodTook > 500*time.Millisecond {
		t.Errorf("a good login waited %v while another failed", goodTook)
	}
}

// Files written by `midge passwd` are accepted by Debian's mosquitto.
func TestMidgePasswdAcceptedByMosquitto(t *testing.T) {
	if _, err := os.Stat(debianMosquitto); err != nil {
		t.Skip("no Debian mosquitto")
	}
	t.Parallel()
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(midgeBin, append([]string{"passwd"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("midge passwd %v: %v\n%s", args, err, out)
		}
	}
	run("-c", "-b", pw, "alice", "secret")
	run("-H", "sha512", "-b", pw, "bob", "hunter2")
	run("-I", "1000", "-b", pw, "carol", "pw3")
	run("-b", pw, "dave", "gone")
	run("-D", pw, "dave")
	if st, err := os.Stat(pw); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("password file mode: %v %v", st.Mode(), err)
	}
	b := startCompatBroker(t, debianMosquitto, "password_file "+pw+"\n", false)
	for _, u := range [][2]string{{"alice", "secret"}, {"bob", "hunter2"}, {"carol", "pw3"}} {
		if _, ack := userConnect(t, b.Addr, packet.V311, "m-"+u[0], u[0], u[1]); ack.Code != 0 {
			t.Errorf("mosquitto refused %s: CONNACK %d", u[0], ack.Code)
		}
	}
	for _, u := range [][2]string{{"alice", "wrong"}, {"dave", "gone"}} {
		if _, ack := userConnect(t, b.Addr, packet.V311, "m-"+u[0], u[0], u[1]); ack.Code != 5 {
			t.Errorf("mosquitto accepted %s/%s: CONNACK %d", u[0], u[1], ack.Code)
		}
	}
	for _, l := range b.Lines() {
		if strings.Contains(l, "password") || strings.Contains(l, "pwfile") {
			t.Errorf("mosquitto complained: %s", l)
		}
	}
}

const aclText = `# anonymous clients
topic read public/#

user alice
topic readwrite a/#
topic write secret/#
topic write open/#
topic read open/#
topic deny a/forbidden

user bob
topic read a/#
topic read open/#
topic write $SYS/broker/connection/b1/state

pattern readwrite devices/%c/#
`

func startACLBroker(t *testing.T) *Broker {
	t.Helper()
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	makePasswd(t, pw, "alice", "a", "bob", "b")
	acl := writeFile(t, dir, "acl", aclText)
	return StartBroker(t, logAll+"allow_anonymous true\npassword_file "+pw+"\nacl_file "+acl+"\n")
}

func TestACLPublishDenied(t *testing.T) {
	t.Parallel()
	b := startACLBroker(t)
	sub, _ := userConnect(t, b.Addr, packet.V311, "sub-bob", "bob", "b")
	sub.subscribe(1, 1, "#")

	for _, v := range []byte{packet.V311, packet.V5} {
		pub, _ := userConnect(t, b.Addr, v, fmt.Sprintf("pub-%d", v), "alice", "a")
		mark := b.Mark()
		// Denied QoS 1: acknowledged (0x87 for v5, plain for 3.1.1), logged, not delivered.
		pub.publish(&packet.Publish{Topic: "public/x", QoS: 1, PacketID: 7, Payload: []byte("no")})
		p := pub.read(5 * time.Second)
		ack, ok := p.(*packet.Ack)
		want := packet.ReasonCode(0)
		if v == packet.V5 {
			want = packet.NotAuthorized
		}
		if !ok || ack.Type != packet.PUBACK || ack.PacketID != 7 || ack.Code != want {
			t.Fatalf("v%d: denied publish answered %#v", v, p)
		}
		b.waitLines(t, mark, fmt.Sprintf(`^Denied PUBLISH from pub-%d \(d0, q1, r0, m7, 'public/x', \.\.\. \(2 bytes\)\)$`, v),
			// The log shows rc135 for every version; only v5 has it on the wire.
			fmt.Sprintf(`^Sending PUBACK to pub-%d \(m7, rc135\)$`, v))
		// Denied QoS 2: PUBREC, then nothing is ever delivered.
		pub.publish(&packet.Publish{Topic: "a/forbidden", QoS: 2, PacketID: 8, Payload: []byte("no")})
		if p := pub.read(5 * time.Second); p.(*packet.Ack).Type != packet.PUBREC {
			t.Fatalf("QoS 2 denied: %#v", p)
		}
		if v != packet.V5 {
			pub.ack(packet.PUBREL, 8)
			pub.expectAck(packet.PUBCOMP, 8)
		}
		// Writes to $SYS and $share are refused for everyone.
		pub.publish(&packet.Publish{Topic: "$SYS/broker/x", QoS: 0, Payload: []byte("no")})
		pub.publish(&packet.Publish{Topic: "$share/g/a/x", QoS: 0, Payload: []byte("no")})
		// An allowed one goes through.
		pub.publish(&packet.Publish{Topic: "a/ok", QoS: 0, Payload: []byte("yes")})
		if m := sub.expectPublish(); m.Topic != "a/ok" {
			t.Fatalf("bob got %q", m.Topic)
		}
		sub.expectNothing()
	}
	b.WaitLog(t, `^Denied PUBLISH from pub-4 \(d0, q0, r0, m0, '\$SYS/broker/x'`, time.Second)
	b.WaitLog(t, `^Denied PUBLISH from pub-4 \(d0, q0, r0, m0, '\$share/g/a/x'`, time.Second)
	// mosquitto_pub to a denied topic: no error for the client, nothing delivered.
	mosquittoPub(t, b, "-u", "alice", "-P", "a", "-t", "public/y", "-m", "z", "-q", "1", "-i", "tool")
	b.WaitLog(t, `^Denied PUBLISH from tool `, 5*time.Second)
	sub.expectNothing()
}

func TestACLReadPerMessage(t *testing.T) {
	t.Parallel()
	b := startACLBroker(t)
	alice, _ := userConnect(t, b.Addr, packet.V311, "alice-c", "alice", "a")
	// Retained message bob may not read.
	alice.publish(&packet.Publish{Topic: "secret/r", QoS: 1, PacketID: 1, Retain: true, Payload: []byte("s")})
	alice.expectAck(packet.PUBACK, 1)

	// Subscriptions are granted whatever the filter (Mosquitto's built-in
	// ACL does not check SUBSCRIBE): '#', a forbidden filter, a shared one.
	bob, _ := userConnect(t, b.Addr, packet.V311, "bob-c", "bob", "b")
	if codes := bob.subscribe(1, 0, "#", "secret/#", "$share/g/secret/#", "$SYS/#"); fmt.Sprint(codes) != "[0 0 0 0]" {
		t.Fatalf("SUBACK %v", codes)
	}
	bob5, _ := userConnect(t, b.Addr, packet.V5, "bob-5", "bob", "b")
	bob5.subscribe(1, 0, "$share/g/secret/#")
	// No retained secret/r for bob.
	bob.expectNothing()

	alice.publish(&packet.Publish{Topic: "secret/x", Payload: []byte("1")})
	alice.publish(&packet.Publish{Topic: "open/x", Payload: []byte("2")})
	if m := bob.expectPublish(); m.Topic != "open/x" {
		t.Fatalf("bob got %q first", m.Topic)
	}
	bob.expectNothing()
	bob5.expectNothing()

	// Anonymous: the topic lines before the first user.
	anon, _ := userConnect(t, b.Addr, packet.V311, "anon-c", "", "")
	anon.subscribe(1, 0, "public/#", "a/#")
	alice.publish(&packet.Publish{Topic: "a/1", Payload: []byte("x")})
	anon.expectNothing()
	// Patterns: a device writes and reads its own subtree only.
	dev, _ := userConnect(t, b.Addr, packet.V311, "d1", "", "")
	dev.subscribe(1, 0, "devices/#")
	dev.publish(&packet.Publish{Topic: "devices/d1/t", Payload: []byte("own")})
	if m := dev.expectPublish(); m.Topic != "devices/d1/t" {
		t.Fatalf("device got %q", m.Topic)
	}
	dev.publish(&packet.Publish{Topic: "devices/d2/t", Payload: []byte("other")})
	dev.expectNothing()
	b.WaitLog(t, `^Denied PUBLISH from d1 \(d0, q0, r0, m0, 'devices/d2/t'`, time.Second)
	// A client id with a wildcard gets nothing from patterns.
	evil, _ := userConnect(t, b.Addr, packet.V311, "#", "", "")
	evil.publish(&packet.Publish{Topic: "devices/x/t", Payload: []byte("x")})
	b.WaitLog(t, `^ACL denying access to client with dangerous client id "#"$`, 5*time.Second)
}

// A will is sent only if its owner may write its topic.
func TestACLWill(t *testing.T) {
	t.Parallel()
	b := startACLBroker(t)
	bob, _ := userConnect(t, b.Addr, packet.V311, "bob-w", "bob", "b")
	bob.subscribe(1, 0, "a/#", "open/#")
	for _, w := range []struct{ id, topic string }{{"w-denied", "a/forbidden"}, {"w-ok", "open/will"}} {
		r := dialRaw(t, b.Addr)
		c := &packet.Connect{ClientID: w.id, CleanStart: true, KeepAlive: 60, UsernameFlag: true, Username: "alice",
			PasswordFlag: true, Password: []byte("a"), WillFlag: true, WillTopic: w.topic, WillPayload: []byte("bye")}
		if ack := r.connect(c); ack.Code != 0 {
			t.Fatalf("CONNACK %d", ack.Code)
		}
		r.nc.Close()
		b.WaitLog(t, fmt.Sprintf(`^Client %s closed its connection\.$`, w.id), 5*time.Second)
	}
	if m := bob.expectPublish(); m.Topic != "open/will" {
		t.Fatalf("bob got will %q", m.Topic)
	}
	bob.expectNothing()
}

func TestReloadRevokesClients(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	makePasswd(t, pw, "alice", "a", "bob", "b")
	acl := writeFile(t, dir, "acl", "user alice\ntopic readwrite x/#\nuser bob\ntopic readwrite x/#\n")
	b := StartBroker(t, "allow_anonymous true\npassword_file "+pw+"\nacl_file "+acl+"\n")
	alice, _ := userConnect(t, b.Addr, packet.V311, "alice-r", "alice", "a")
	bob, _ := userConnect(t, b.Addr, packet.V311, "bob-r", "bob", "b")
	anon, _ := userConnect(t, b.Addr, packet.V311, "anon-r", "", "")
	alice.subscribe(1, 0, "x/#")

	// Bob is removed, alice's read access is narrowed, anonymous access ends.
	if out, err := exec.Command(midgeBin, "passwd", "-D", pw, "bob").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	writeFile(t, dir, "acl", "user alice\ntopic readwrite x/a\nuser bob\ntopic readwrite x/#\n")
	conf := filepath.Join(b.Dir, "midge.conf")
	body, _ := os.ReadFile(conf)
	os.WriteFile(conf, []byte(strings.Replace(string(body), "allow_anonymous true", "allow_anonymous false", 1)), 0o644)
	mark := b.Mark()
	b.Signal(syscall.SIGHUP)
	b.WaitLogFrom(t, mark, `^Client bob-r disconnected\.$`, 5*time.Second)
	b.WaitLogFrom(t, mark, `^Client anon-r disconnected\.$`, 5*time.Second)
	bob.expectClosed(5 * time.Second)
	anon.expectClosed(5 * time.Second)
	alice.ping()
	// The new ACL applies to alice's existing subscription at once.
	pub, _ := userConnect(t, b.Addr, packet.V311, "alice-p", "alice", "a")
	pub.publish(&packet.Publish{Topic: "x/b", Payload: []byte("1")})
	pub.publish(&packet.Publish{Topic: "x/a", Payload: []byte("2")})
	if m := alice.expectPublish(); m.Topic != "x/a" {
		t.Fatalf("alice got %q", m.Topic)
	}
	if _, ack := userConnect(t, b.Addr, packet.V311, "bob-again", "bob", "b"); ack.Code != 5 {
		t.Errorf("removed user: CONNACK %d", ack.Code)
	}
	// A reload whose password file is missing keeps the previous one.
	os.Remove(pw)
	mark = b.Mark()
	b.Signal(syscall.SIGHUP)
	b.WaitLogFrom(t, mark, `^Error opening password file "`, 5*time.Second)
	alice.ping()
	if _, ack := userConnect(t, b.Addr, packet.V311, "alice-2", "alice", "a"); ack.Code != 0 {
		t.Errorf("after a failed reload: CONNACK %d", ack.Code)
	}
}

func TestPerListenerSettings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	makePasswd(t, pw, "alice", "a")
	acl := writeFile(t, dir, "acl", "user alice\ntopic readwrite mine/#\n")
	open := freePort(t)
	b := StartBroker(t, fmt.Sprintf("per_listener_settings true\nlistener PORT 127.0.0.1\npassword_file %s\nacl_file %s\nallow_anonymous false\n"+
		"listener %d 127.0.0.1\nallow_anonymous true\n", pw, acl, open))
	openAddr := fmt.Sprintf("127.0.0.1:%d", open)
	if _, ack := userConnect(t, b.Addr, packet.V311, "anon1", "", ""); ack.Code != 5 {
		t.Errorf("anonymous on the closed listener: CONNACK %d", ack.Code)
	}
	if _, ack := userConnect(t, b.Addr, packet.V311, "alice1", "alice", "a"); ack.Code != 0 {
		t.Errorf("alice on the closed listener: CONNACK %d", ack.Code)
	}
	// The open listener has no password file: any client, no ACL.
	r, ack := userConnect(t, openAddr, packet.V311, "anon2", "", "")
	if ack.Code != 0 {
		t.Fatalf("anonymous on the open listener: CONNACK %d", ack.Code)
	}
	r.subscribe(1, 0, "#")
	// alice on the secure listener may not write outside mine/#.
	a, _ := userConnect(t, b.Addr, packet.V311, "alice2", "alice", "a")
	a.publish(&packet.Publish{Topic: "other", Payload: []byte("x")})
	a.publish(&packet.Publish{Topic: "mine/1", Payload: []byte("y")})
	if m := r.expectPublish(); m.Topic != "mine/1" {
		t.Fatalf("got %q", m.Topic)
	}
}

func TestSecurityFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := []struct {
		name, conf string
		code       int
		want       []string
	}{
		{"missing password file", "password_file " + dir + "/nope\n", 13, []string{
			`Error: Unable to open pwfile "` + dir + `/nope".`, `Error opening password file "` + dir + `/nope".`}},
		{"password file is a directory", "password_file " + dir + "\n", 13, []string{
			`Error: ` + dir + ` is not a file.`, `Error: Unable to open pwfile "` + dir + `".`, `Error opening password file "` + dir + `".`}},
		{"missing acl file", "acl_file " + dir + "/nope\n", 13, []string{
			`Error: Unable to open acl_file "` + dir + `/nope".`, `Error opening acl file "` + dir + `/nope".`}},
		{"bad acl line", "acl_file " + writeFile(t, dir, "bad.acl", "user a\ntopic rw x\n") + "\n", 3, []string{
			`Error: Invalid topic access type "rw" in acl_file "` + dir + `/bad.acl".`, `Error opening acl file "` + dir + `/bad.acl".`}},
	}
	for _, c := range cases {
		p := writeFile(t, dir, strings.ReplaceAll(c.name, " ", "_")+".conf", fmt.Sprintf("listener %d 127.0.0.1\nuser root\n", freePort(t))+c.conf)
		b := startProcess(t, "-c", p)
		if code := b.Exited(t, 10*time.Second); code != c.code {
			t.Errorf("%s: exit %d, want %d", c.name, code, c.code)
		}
		got := strings.Join(b.Lines(), "\n")
		if !strings.Contains(got, strings.Join(c.want, "\n")) {
			t.Errorf("%s: log\n%s\nwant\n%s", c.name, got, strings.Join(c.want, "\n"))
		}
		if strings.Contains(got, "listen socket") {
			t.Errorf("%s: listeners opened", c.name)
		}
	}

	// Entries that do not parse are logged and dropped; the broker runs.
	// A world-readable file is loaded with the 2.0.16+ warning (one log
	// call: the second line has no timestamp).
	pw := filepath.Join(dir, "loose")
	os.WriteFile(pw, []byte("u:\n:x\nv:$6$abc\nw:plain\n"), 0o644)
	os.Chmod(pw, 0o644)
	b := StartBroker(t, "password_file "+pw+"\n")
	raw := strings.Join(b.RawLines(), "\n")
	for _, w := range []string{
		": Warning: File " + pw + " has world readable permissions. Future versions will refuse to load this file.\nTo fix this, use `chmod 0700 " + pw + "`.\n",
		": Warning: Invalid line in password file '" + pw + "': :x\n",
		": Error: Invalid password hash for user u, removing entry.\n",
		": Error: Unable to decode password salt for user v, removing entry.\n",
		": Error: Invalid password hash type for user w, removing entry.\n",
	} {
		if !strings.Contains(raw, w) {
			t.Errorf("log lacks %q:\n%s", w, raw)
		}
	}
}

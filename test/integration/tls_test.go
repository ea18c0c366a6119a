package integration

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/packet"
)

func needMosquittoClients(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("mosquitto_pub"); err != nil {
		t.Skip("mosquitto_pub not installed (scripts/test installs mosquitto-clients)")
	}
}

// tlsBroker starts midge with a plain listener (for the harness) and a TLS
// listener configured by extra; it returns the broker and the TLS port.
func tlsBroker(t *testing.T, p *pki, extra string) (*Broker, int) {
	t.Helper()
	tp := freePort(t)
	conf := fmt.Sprintf("listener PORT 127.0.0.1\nlistener %d 127.0.0.1\ncertfile %s\nkeyfile %s\n%s\nlog_type all\n",
		tp, p.serverCert, p.serverKey, extra)
	b := StartBroker(t, conf)
	b.WaitLog(t, "running$", 10*time.Second) // every listener is open
	return b, tp
}

// dialTLS opens a TLS connection as a client with the given certificate
// (nil for none) and returns a raw MQTT client over it.
func dialTLS(t *testing.T, p *pki, port int, cert *leaf, mut func(*tls.Config)) (*rawClient, error) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(p.ca.cert)
	cfg := &tls.Config{RootCAs: roots, ServerName: "localhost"}
	if cert != nil {
		pair, err := tls.X509KeyPair(cert.certPEM, cert.keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		// Sent whatever CAs the server names, as OpenSSL clients do.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
	}
	if mut != nil {
		mut(cfg)
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	nc, err := tls.DialWithDialer(d, "tcp", fmt.Sprintf("127.0.0.1:%d", port), cfg)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { nc.Close() })
	return &rawClient{t: t, nc: nc, v: packet.V311}, nil
}

// tryConnect sends CONNECT and returns the CONNACK, or the error that ended
// the connection (a TLS 1.3 client learns of a refused certificate only
// when it reads).
func tryConnect(r *rawClient, c *packet.Connect) (*packet.Connack, error) {
	if _, err := r.nc.Write(packet.AppendConnect(nil, c)); err != nil {
		return nil, err
	}
	p, err := r.tryRead(5 * time.Second)
	if err != nil {
		return nil, err
	}
	ack, _ := p.(*packet.Connack)
	return ack, nil
}

// TestTLSClientCertificates: require_certificate with cafile and crlfile
// admits a good client certificate (Debian's mosquitto_pub/mosquitto_sub)
// and refuses an expired one, one from another CA, a revoked one and none,
// with Mosquitto's lines.
func TestTLSClientCertificates(t *testing.T) {
	t.Parallel()
	needMosquittoClients(t)
	p := newPKI(t)
	b, tp := tlsBroker(t, p, fmt.Sprintf("cafile %s\nrequire_certificate true\ncrlfile %s", p.caFile, p.crlFile))
	b.WaitLog(t, q(fmt.Sprintf("Opening ipv4 listen socket on port %d.", tp)), 5*time.Second)

	tlsArgs := []string{"-h", "localhost", "-p", fmt.Sprint(tp), "--cafile", p.caFile, "--cert", p.goodCert, "--key", p.goodKey}
	subDone := make(chan []byte, 1)
	mark := b.Mark()
	sub := exec.Command("mosquitto_sub", append(tlsArgs, "-i", "tls-sub", "-t", "tls/t", "-C", "1", "-W", "10", "-v")...)
	go func() { out, _ := sub.CombinedOutput(); subDone <- out }()
	b.WaitLogFrom(t, mark, `^Received SUBSCRIBE from tls-sub$`, 10*time.Second)
	if out, err := exec.Command("mosquitto_pub", append(tlsArgs, "-i", "tls-pub", "-t", "tls/t", "-m", "over tls", "-q", "1")...).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub: %v\n%s", err, out)
	}
	select {
	case out := <-subDone:
		if strings.TrimSpace(string(out)) != "tls/t over tls" {
			t.Fatalf("mosquitto_sub got %q", out)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("mosquitto_sub did not finish")
	}
	b.waitLines(t, mark, `^New connection from 127\.0\.0\.1:\d+ on port `+fmt.Sprint(tp)+`\.$`,
		`^New client connected from 127\.0\.0\.1:\d+ as tls-sub \(p2, c1, k60\)\.$`)

	refused := []struct {
		name string
		cert *leaf
		text string
	}{
		{"expired", p.expired, "error:0A000086:SSL routines::certificate verify failed"},
		{"wrong CA", p.wrongCA, "error:0A000086:SSL routines::certificate verify failed"},
		{"revoked", p.revoked, "error:0A000086:SSL routines::certificate verify failed"},
		{"no certificate", nil, "error:0A0000C7:SSL routines::peer did not return a certificate"},
	}
	for _, c := range refused {
		mark := b.Mark()
		r, err := dialTLS(t, p, tp, c.cert, nil)
		if err == nil {
			if ack, err2 := tryConnect(r, connectPacket("bad-"+strings.ReplaceAll(c.name, " ", "-"))); err2 == nil {
				t.Fatalf("%s: connected (CONNACK %+v)", c.name, ack)
			}
		}
		b.waitLines(t, mark, q("OpenSSL Error[0]: "+c.text), q("Client <unknown> disconnected: Protocol error."))
		if n := b.countLines(mark, "New client connected"); n != 0 {
			t.Errorf("%s: a client connected", c.name)
		}
	}

	// Plain MQTT sent to the TLS port.
	mark = b.Mark()
	r := dialRaw(t, fmt.Sprintf("127.0.0.1:%d", tp))
	r.send(packet.AppendConnect(nil, connectPacket("plain")))
	r.expectClosed(5 * time.Second)
	// The failure comes after accept, so Mosquitto's post-accept lines
	// (docs/SECURITY.md), never "Client connection from %s failed: %s.".
	b.waitLines(t, mark, `^New connection from 127\.0\.0\.1:\d+ on port `+fmt.Sprint(tp)+`\.$`,
		q("OpenSSL Error[0]: error:0A00010B:SSL routines::wrong version number"),
		q("Client <unknown> disconnected: Protocol error."))
	// An HTTP request: OpenSSL names it.
	mark = b.Mark()
	r = dialRaw(t, fmt.Sprintf("127.0.0.1:%d", tp))
	r.send([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	r.expectClosed(5 * time.Second)
	b.waitLines(t, mark, q("OpenSSL Error[0]: error:0A00009C:SSL routines::http request"),
		q("Client <unknown> disconnected: Protocol error."))
	if n := b.countLines(0, "^Client connection from"); n != 0 {
		t.Errorf("%d 'Client connection from' lines", n)
	}
}

// TestTLSUsernameFromCertificate: use_identity_as_username takes the CN,
// use_subject_as_username the RFC 2253 subject; the CONNECT username is
// discarded, and a client without a certificate gets CONNACK 4 (v3) / 0x86
// (v5) even though allow_anonymous is false for the others.
func TestTLSUsernameFromCertificate(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	tp2, tp3 := freePort(t), freePort(t)
	b, tp := tlsBroker(t, p, fmt.Sprintf("cafile %s\nuse_identity_as_username true\nallow_anonymous false\n"+
		"listener %d 127.0.0.1\ncertfile %s\nkeyfile %s\ncafile %s\nrequire_certificate true\nuse_subject_as_username true\n"+
		"listener %d 127.0.0.1\ncertfile %s\nkeyfile %s\ncafile %s\nrequire_certificate true\nuse_identity_as_username true\n",
		p.caFile, tp2, p.serverCert, p.serverKey, p.caFile, tp3, p.serverCert, p.serverKey, p.caFile))

	mark := b.Mark()
	r, err := dialTLS(t, p, tp3, p.good, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := connectPacket("cn-user")
	c.UsernameFlag, c.Username, c.PasswordFlag, c.Password = true, "eve", true, []byte("x")
	if ack := r.connect(c); ack.Code != 0 {
		t.Fatalf("CONNACK %d", ack.Code)
	}
	b.waitLines(t, mark, `^New client connected from 127\.0\.0\.1:\d+ as cn-user \(p2, c1, k60, u'alice'\)\.$`)

	// require_certificate false: no certificate is asked for, so none is
	// there even when the client has one.
	for _, v5 := range []bool{false, true} {
		mark = b.Mark()
		r, err = dialTLS(t, p, tp, p.good, nil)
		if err != nil {
			t.Fatal(err)
		}
		c = connectPacket("no-cert")
		want := packet.ConnRefusedBadAuth
		if v5 {
			c.ProtocolLevel, c.Version = 5, 5
			r.v = 5
			want = packet.BadUsernameOrPassword
		}
		if ack := r.connect(c); ack.Code != want {
			t.Fatalf("v5=%v: CONNACK %d, want %d", v5, ack.Code, want)
		}
		b.waitLines(t, mark, q("Client no-cert disconnected, not authorised."))
	}

	mark = b.Mark()
	r, err = dialTLS(t, p, tp2, p.good, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ack := r.connect(connectPacket("subj-user")); ack.Code != 0 {
		t.Fatalf("CONNACK %d", ack.Code)
	}
	b.waitLines(t, mark, `^New client connected from 127\.0\.0\.1:\d+ as subj-user \(p2, c1, k60, u'CN=alice,O=Midge Test'\)\.$`)
}

// TestTLSReloadOnSIGHUP: a new certificate and key written over the old
// files are served to new connections after SIGHUP, while a client
// connected before keeps its connection and its subscription.
func TestTLSReloadOnSIGHUP(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	b, tp := tlsBroker(t, p, "")
	old, err := dialTLS(t, p, tp, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ack := old.connect(connectPacket("stays")); ack.Code != 0 {
		t.Fatalf("CONNACK %d", ack.Code)
	}
	old.subscribe(1, 0, "reload/t")
	firstSerial := old.nc.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber

	next := p.ca.server(t, "localhost")
	write(t, p.dir, "server.crt", next.certPEM)
	write(t, p.dir, "server.key", next.keyPEM)
	mark := b.Mark()
	b.Signal(syscall.SIGHUP)
	b.WaitLogFrom(t, mark, q("Reloading config."), 5*time.Second)

	var fresh *rawClient
	eventually(t, 5*time.Second, "new certificate served", func() bool {
		r, err := dialTLS(t, p, tp, nil, nil)
		if err != nil {
			return false
		}
		if r.nc.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber.Cmp(next.cert.SerialNumber) == 0 {
			fresh = r
			return true
		}
		r.nc.Close()
		return false
	})
	if firstSerial.Cmp(next.cert.SerialNumber) == 0 {
		t.Fatal("serials equal")
	}
	if ack := fresh.connect(connectPacket("fresh")); ack.Code != 0 {
		t.Fatalf("CONNACK %d", ack.Code)
	}
	fresh.publish(&packet.Publish{Topic: "reload/t", Payload: []byte("after reload")})
	if m := old.expectPublish(); string(m.Payload) != "after reload" {
		t.Fatalf("old client got %q", m.Payload)
	}
	if n := b.countLines(0, "Client stays (disconnected|closed)"); n != 0 {
		t.Fatal("the client connected before the reload was dropped")
	}

	// A broken pair is refused and the good one stays.
	write(t, p.dir, "server.key", []byte("junk"))
	mark = b.Mark()
	b.Signal(syscall.SIGHUP)
	b.WaitLogFrom(t, mark, q(fmt.Sprintf("Error when reloading certificate '%s' or key '%s'.", p.serverCert, p.serverKey)), 5*time.Second)
	if _, err := dialTLS(t, p, tp, nil, nil); err != nil {
		t.Fatalf("after a failed reload: %v", err)
	}
}

// TestTLSStartupErrors: every TLS problem stops the broker with
// Mosquitto's line (and midge's explanation where Go cannot honour an
// OpenSSL setting).
func TestTLSStartupErrors(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	missing := filepath.Join(p.dir, "missing.pem")
	cases := []struct {
		conf  string
		lines []string
	}{
		{"certfile " + missing + "\nkeyfile " + p.serverKey, []string{`Error: Unable to load server certificate "` + missing + `". Check certfile.`}},
		{"certfile " + p.serverCert + "\nkeyfile " + missing, []string{`Error: Unable to load server key file "` + missing + `". Check keyfile.`}},
		{"certfile " + p.serverCert + "\nkeyfile " + p.goodKey, []string{"Error: Server certificate/key are inconsistent."}},
		{"certfile " + p.serverCert + "\nkeyfile " + p.serverKey + "\ncafile " + missing, []string{`Error: Unable to load CA certificates. Check cafile "` + missing + `".`}},
		{"certfile " + p.serverCert + "\nkeyfile " + p.serverKey + "\ncrlfile " + missing, []string{`Error: Unable to load certificate revocation file "` + missing + `". Check crlfile.`}},
		{"certfile " + p.serverCert + "\nkeyfile " + p.serverKey + "\ntls_version tlsv1", []string{`Error: Unsupported tls_version "tlsv1".`}},
		{"certfile " + p.serverCert + "\nkeyfile " + p.serverKey + "\nciphers ECDHE-RSA-AES128-GCM-SHA256:kRSA", []string{
			`Error: Unable to set TLS ciphers. Check cipher list "ECDHE-RSA-AES128-GCM-SHA256:kRSA".`,
			`Error: cipher list element "kRSA": no such suite in Go's TLS`}},
		{"certfile " + p.serverCert + "\nkeyfile " + p.serverKey + "\nciphers_tls1.3 TLS_AES_256_GCM_SHA384", []string{
			`Error: Unable to set TLS 1.3 ciphersuites. Check cipher_tls13 list "TLS_AES_256_GCM_SHA384".`,
			`Error: cipher list element "TLS_AES_128_GCM_SHA256": Go's TLS always enables`}},
		{"cafile " + p.caFile, []string{"Error: cafile needs both certfile and keyfile on the same listener"}},
		{"certfile " + p.serverCert, []string{"Error: certfile needs both certfile and keyfile on the same listener"}},
	}
	for _, c := range cases {
		dir := t.TempDir()
		conf := fmt.Sprintf("user root\nlistener %d 127.0.0.1\n%s\n", freePort(t), c.conf)
		path := write(t, dir, "m.conf", []byte(conf))
		b := startProcess(t, "-c", path)
		if code := b.Exited(t, 10*time.Second); code != 1 {
			t.Errorf("%q: exit %d, want 1", c.conf, code)
		}
		for _, l := range c.lines {
			if b.countLines(0, "^"+regexp.QuoteMeta(l)) != 1 {
				t.Errorf("%q: no line %q in\n%s", c.conf, l, strings.Join(b.Lines(), "\n"))
			}
		}
	}
}

// TestTLSVersionMinimum: tls_version tlsv1.3 refuses a TLS 1.2 client, and
// a cipher list restricts TLS 1.2 suites.
func TestTLSVersionMinimum(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	b, tp := tlsBroker(t, p, "tls_version tlsv1.3")
	mark := b.Mark()
	if r, err := dialTLS(t, p, tp, nil, func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 }); err == nil {
		r.nc.Close()
		t.Fatal("TLS 1.2 client accepted by a tlsv1.3 listener")
	}
	b.waitLines(t, mark, q("OpenSSL Error[0]: error:0A000102:SSL routines::unsupported protocol"))
	if r, err := dialTLS(t, p, tp, nil, nil); err != nil {
		t.Fatal(err)
	} else if v := r.nc.(*tls.Conn).ConnectionState().Version; v != tls.VersionTLS13 {
		t.Fatalf("version %x", v)
	}

	b2, tp2 := tlsBroker(t, p, "tls_version tlsv1.2\nciphers ECDHE-ECDSA-AES256-GCM-SHA384")
	_ = b2
	r, err := dialTLS(t, p, tp2, nil, func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 })
	if err != nil {
		t.Fatal(err)
	}
	if s := r.nc.(*tls.Conn).ConnectionState().CipherSuite; s != tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 {
		t.Fatalf("suite %s", tls.CipherSuiteName(s))
	}
}

// TestTLSSilentSocketDropped: a socket that opens a TLS listener and sends
// nothing, or starts a handshake and stalls, is closed by connect_timeout.
func TestTLSSilentSocketDropped(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	b, tp := tlsBroker(t, p, "connect_timeout 1")
	_ = b
	start := time.Now()
	r := dialRaw(t, fmt.Sprintf("127.0.0.1:%d", tp))
	r.send([]byte{0x16, 0x03, 0x01}) // the start of a ClientHello, then nothing
	r.expectClosed(5 * time.Second)
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("closed after %v", d)
	}
}

// TestUnixSocketListener: listener 0 /path speaks MQTT on a unix socket.
func TestUnixSocketListener(t *testing.T) {
	t.Parallel()
	dir, err := os.MkdirTemp("", "midge-unix-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "m.sock")
	b := StartBroker(t, fmt.Sprintf("listener PORT 127.0.0.1\nlistener 0 %s\nlog_type all\n", sock))
	b.WaitLog(t, q("Opening unix listen socket on path "+sock+"."), 5*time.Second)
	b.WaitLog(t, "running$", 5*time.Second)
	st, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode()&os.ModeSocket == 0 || st.Mode().Perm()&0o007 != 0 {
		t.Fatalf("socket file mode %v", st.Mode())
	}
	nc, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	r := &rawClient{t: t, nc: nc, v: packet.V311}
	mark := b.Mark()
	if ack := r.connect(connectPacket("unix-client")); ack.Code != 0 {
		t.Fatalf("CONNACK %d", ack.Code)
	}
	b.waitLines(t, mark, `^New client connected from .* as unix-client \(p2, c1, k60\)\.$`)
	if _, err := exec.LookPath("mosquitto_pub"); err == nil {
		r.subscribe(1, 0, "unix/t")
		if out, err := exec.Command("mosquitto_pub", "--unix", sock, "-t", "unix/t", "-m", "via unix").CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_pub --unix: %v\n%s", err, out)
		}
		if m := r.expectPublish(); string(m.Payload) != "via unix" {
			t.Fatalf("got %q", m.Payload)
		}
	}
}

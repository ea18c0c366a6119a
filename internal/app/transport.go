package app

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/midgemq/midge/internal/broker"
	"github.com/midgemq/midge/internal/config"
	"github.com/midgemq/midge/internal/logcat"
	"github.com/midgemq/midge/internal/transport/tlsx"
	"github.com/midgemq/midge/internal/transport/ws"
)

// transportState is what the transports keep for SIGHUP: the certificate
// holders of the TLS listeners, reloaded in place.
type transportState struct {
	holders []*tlsx.Holder
}

// listenerTLS is a listener's TLS set-up: nil when it has none.
type listenerTLS struct {
	cfg      *tls.Config
	username func(*x509.Certificate) (string, bool)
}

// brokerSpec is the broker's view of a config listener (as openListeners
// builds it for plain TCP).
func (r *runner) brokerSpec(l *config.Listener, network, addr string) broker.Listener {
	return broker.Listener{
		Network: network, Addr: addr, Port: l.Port,
		MaxConnections: l.MaxConnections, MountPoint: l.MountPoint, MaxQoS: byte(l.MaxQoS),
		UseUsernameAsClientID: l.UseUsernameAsClientID, Security: security(r.cfg, l),
		MaxTopicAlias: uint16(l.MaxTopicAlias),
		Websockets:    l.Protocol == "websockets",
	}
}

// buildTLS turns a listener's TLS options into a tls.Config, logging
// Mosquitto's line for the first problem (0 = fine, else the exit status).
func (r *runner) buildTLS(l *config.Listener) (*listenerTLS, int) {
	t := &l.TLS
	log := r.log
	if !t.Enabled() {
		for _, o := range []struct{ name, v string }{
			{"cafile", t.CAFile}, {"capath", t.CAPath}, {"crlfile", t.CRLFile}, {"ciphers", t.Ciphers},
			{"ciphers_tls1.3", t.CiphersTLS13}, {"tls_version", t.TLSVersion},
			{"require_certificate", t.RequireCertificate}, {"use_identity_as_username", t.UseIdentityAsUsername},
			{"use_subject_as_username", t.UseSubjectAsUsername},
		} {
			if o.v != "" && o.v != "false" {
				log.Log(logcat.TLSNeedsCert, o.name)
				return nil, exitFail
			}
		}
		return nil, 0
	}
	if t.CertFile == "" || t.KeyFile == "" {
		name := "certfile"
		if t.CertFile == "" {
			name = "keyfile"
		}
		log.Log(logcat.TLSNeedsCert, name)
		return nil, exitFail
	}
	c := &tls.Config{}
	var ok bool
	if c.MinVersion, ok = tlsx.MinVersion(t.TLSVersion); !ok {
		log.Log(logcat.TLSBadVersion, t.TLSVersion)
		return nil, exitFail
	}
	if t.Ciphers != "" {
		suites, err := tlsx.Ciphers(t.Ciphers)
		if err != nil {
			log.Log(logcat.TLSBadCiphers, t.Ciphers)
			logCipherDetail(r, err)
			return nil, exitFail
		}
		c.CipherSuites = suites
	}
	if t.CiphersTLS13 != "" {
		if err := tlsx.CheckTLS13(t.CiphersTLS13); err != nil {
			log.Log(logcat.TLSBadCiphers13, t.CiphersTLS13)
			logCipherDetail(r, err)
			return nil, exitFail
		}
	}
	if t.CAFile != "" || t.CAPath != "" {
		pool, fileErr, pathErr := tlsx.CAPool(t.CAFile, t.CAPath)
		switch {
		case fileErr && pathErr:
			log.Log(logcat.TLSCALoadBoth, t.CAFile, t.CAPath)
		case fileErr:
			log.Log(logcat.TLSCALoadFile, t.CAFile)
		case pathErr:
			log.Log(logcat.TLSCALoadPath, t.CAPath)
		}
		if fileErr || pathErr {
			return nil, exitFail
		}
		c.ClientCAs = pool
	} else {
		// No CA: nothing verifies, as in Mosquitto (never the system roots).
		c.ClientCAs = x509.NewCertPool()
	}
	if t.Require() {
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	if t.CRLFile != "" {
		crl, err := tlsx.LoadCRL(t.CRLFile)
		if err != nil {
			log.Log(logcat.TLSCRLLoad, t.CRLFile)
			return nil, exitFail
		}
		c.VerifyPeerCertificate = func(_ [][]byte, chains [][]*x509.Certificate) error {
			var err error
			for _, ch := range chains {
				if err = crl.Check(ch, time.Now()); err == nil {
					return nil
				}
			}
			return err
		}
	}
	h, err := tlsx.NewHolder(t.CertFile, t.KeyFile)
	if err != nil {
		var le *tlsx.LoadError
		errors.As(err, &le)
		switch {
		case le != nil && le.What == "key":
			log.Log(logcat.TLSKeyLoad, t.KeyFile)
		case le != nil && le.What == "mismatch":
			log.Log(logcat.TLSKeyMismatch)
		default:
			log.Log(logcat.TLSCertLoad, t.CertFile)
		}
		return nil, exitFail
	}
	c.GetCertificate = h.GetCertificate
	r.transport.holders = append(r.transport.holders, h)
	lt := &listenerTLS{cfg: c}
	switch {
	case t.IdentityAsUsername():
		lt.username = tlsx.Identity
	case t.SubjectAsUsername():
		lt.username = func(c *x509.Certificate) (string, bool) { return tlsx.Subject(c), true }
	}
	return lt, 0
}

func logCipherDetail(r *runner, err error) {
	var ce *tlsx.CipherError
	if errors.As(err, &ce) {
		r.log.Log(logcat.TLSCipherDetail, ce.Element, ce.Reason)
	}
}

// listen opens one TCP socket of an MQTT listener, with TLS when configured.
func (r *runner) listen(spec broker.Listener, lt *listenerTLS) (net.Addr, error) {
	if lt == nil {
		return r.srv.Listen(spec)
	}
	ln, err := broker.ListenSocket(spec.Network, spec.Addr)
	if err != nil {
		return nil, err
	}
	if spec.Port == 0 {
		spec.Port = ln.Addr().(*net.TCPAddr).Port
	}
	if spec.Network == "tcp6" {
		r.log.Log(logcat.ListenIPv6, spec.Port)
	} else {
		r.log.Log(logcat.ListenIPv4, spec.Port)
	}
	r.srv.AddListener(&tlsx.Listener{Listener: ln, Config: lt.cfg, Username: lt.username,
		OnError: func(_ net.Addr, text string) { r.log.Log(logcat.OpenSSLError, 0, text) }}, spec)
	return ln.Addr(), nil
}

// openSpecial opens websockets and unix-socket listeners; done is false for
// the TCP listeners openListeners opens itself.
func (r *runner) openSpecial(l *config.Listener) (done bool, code int) {
	switch {
	case l.UnixPath != "":
		return true, r.openUnix(l)
	case l.Protocol == "websockets":
		return true, r.openWebsockets(l)
	}
	return false, 0
}

// openUnix opens "listener 0 /path" (MQTT, or TLS, over a unix socket).
func (r *runner) openUnix(l *config.Listener) int {
	log := r.log
	lt, code := r.buildTLS(l)
	if code != 0 {
		return code
	}
	log.Log(logcat.ListenUnix, l.UnixPath)
	if len(l.UnixPath) >= 108 { // sizeof(sun_path)
		log.Log(logcat.UnixPathTooLong, l.UnixPath)
		return exitFail
	}
	os.Remove(l.UnixPath) // a stale socket from an earlier run, as Mosquitto unlinks it
	old := syscall.Umask(0o007)
	ln, err := net.Listen("unix", l.UnixPath)
	syscall.Umask(old)
	if err != nil {
		log.Log(logcat.UnixBindError, broker.ErrorText(err))
		return exitFail
	}
	var nl net.Listener = &unixListener{Listener: ln, path: l.UnixPath}
	if lt != nil {
		nl = &tlsx.Listener{Listener: nl, Config: lt.cfg, Username: lt.username,
			OnError: func(_ net.Addr, text string) { log.Log(logcat.OpenSSLError, 0, text) }}
	}
	r.srv.AddListener(nl, r.brokerSpec(l, "unix", l.UnixPath))
	r.lcfg = append(r.lcfg, *l)
	return 0
}

// unixListener gives its connections the socket path as their address, so
// the logs read "New connection from /path:0 on port 0." (a unix peer has no
// address of its own).
type unixListener struct {
	net.Listener
	path string
}

func (u *unixListener) Accept() (net.Conn, error) {
	c, err := u.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &unixConn{Conn: c, addr: unixAddr(u.path)}, nil
}

// Close also removes the socket file.
func (u *unixListener) Close() error {
	err := u.Listener.Close()
	os.Remove(u.path)
	return err
}

type unixConn struct {
	net.Conn
	addr unixAddr
}

func (c *unixConn) RemoteAddr() net.Addr { return c.addr }

type unixAddr string

func (a unixAddr) Network() string { return "unix" }
func (a unixAddr) String() string  { return string(a) + ":0" }

// openWebsockets opens a "protocol websockets" listener: one socket for
// every address of the host (Mosquitto's libwebsockets listens dual-stack).
func (r *runner) openWebsockets(l *config.Listener) int {
	log := r.log
	lt, code := r.buildTLS(l)
	if code != 0 {
		return code
	}
	network := "tcp"
	switch l.SocketDomain {
	case "ipv4":
		network = "tcp4"
	case "ipv6":
		network = "tcp6"
	}
	addr := net.JoinHostPort(l.Host, strconv.Itoa(l.Port))
	if r.cfg.LocalOnly {
		addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(l.Port))
	}
	raw, err := broker.ListenSocket(network, addr)
	if err != nil {
		log.Log(logcat.WebsocketsListenError, l.Port)
		return exitFail
	}
	log.Log(logcat.ListenWebsockets, l.Port)
	// Sockets count against max_connections from accept, before their TLS
	// handshake and HTTP upgrade, as in Mosquitto (broker/admit.go).
	spec := r.brokerSpec(l, network, addr)
	spec.Admission = r.srv.NewAdmission(l.MaxConnections)
	ln := spec.Admission.Listener(raw)
	o := ws.Options{
		HTTPDir:       l.HTTPDir,
		HeaderTimeout: r.cfg.ConnectTimeout,
		Serving:       func(p string) { log.Log(logcat.HTTPServingFile, p) },
		ErrorLog:      func(line string) { log.Log(logcat.WebsocketsLog, line) },
	}
	if lt != nil {
		ln = tls.NewListener(ln, lt.cfg)
		o.Username = lt.username
	}
	wl, err := ws.New(ln, o)
	if err != nil {
		raw.Close()
		log.Log(logcat.HTTPDirOpen, l.HTTPDir)
		return exitFail
	}
	if spec.Port == 0 {
		spec.Port = raw.Addr().(*net.TCPAddr).Port
	}
	r.srv.AddListener(wl, spec)
	r.lcfg = append(r.lcfg, *l)
	return 0
}

// reloadTLS re-reads every TLS listener's certificate and key (SIGHUP).
// Connected clients keep their sessions; new handshakes get the new pair.
func (r *runner) reloadTLS() {
	for _, h := range r.transport.holders {
		if err := h.Reload(); err != nil {
			r.log.Log(logcat.TLSReloadFailed, h.CertFile, h.KeyFile)
		}
	}
}

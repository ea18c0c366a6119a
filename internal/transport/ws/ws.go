// Package ws serves MQTT over WebSockets (Mosquitto's "protocol websockets"
// listeners) with github.com/coder/websocket, plus static files from
// http_dir. Each upgraded connection becomes a net.Conn handed out by
// Listener.Accept, so the broker treats it like any other socket.
package ws

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Options configure a Listener.
type Options struct {
	// HTTPDir serves static files for plain HTTP requests; "" answers 404.
	HTTPDir string
	// HeaderTimeout bounds the TLS handshake and the HTTP upgrade request;
	// after the upgrade the broker's connect_timeout applies.
	HeaderTimeout time.Duration
	// Serving is told of each file served (Mosquitto's DEBUG line).
	Serving func(path string)
	// ErrorLog receives the HTTP server's own messages (TLS handshake
	// errors, ...), without the trailing newline.
	ErrorLog func(line string)
	// Username, for wss with use_identity_as_username or
	// use_subject_as_username, maps the client certificate to a username.
	Username func(peer *x509.Certificate) (string, bool)
}

// Listener is a net.Listener of upgraded WebSocket connections.
type Listener struct {
	raw   net.Listener
	opts  Options
	srv   *http.Server
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	root  string // resolved HTTPDir
}

// New serves WebSockets on ln (a plain or a TLS listener).
func New(ln net.Listener, o Options) (*Listener, error) {
	l := &Listener{raw: ln, opts: o, conns: make(chan net.Conn), done: make(chan struct{})}
	if o.HTTPDir != "" {
		root, err := filepath.EvalSymlinks(o.HTTPDir)
		if err != nil {
			return nil, err
		}
		if st, err := os.Stat(root); err != nil || !st.IsDir() {
			return nil, errors.New("not a directory")
		}
		l.root = root
	}
	l.srv = &http.Server{
		Handler:           l,
		ReadHeaderTimeout: o.HeaderTimeout,
		// No ReadTimeout/WriteTimeout: their deadlines would stay on upgraded
		// connections. File responses set their own write deadline.
		IdleTimeout:    o.HeaderTimeout,
		MaxHeaderBytes: 16 << 10,
		ErrorLog:       log.New(lineWriter(o.ErrorLog), "", 0),
	}
	go l.srv.Serve(ln)
	return l, nil
}

type lineWriter func(string)

func (w lineWriter) Write(p []byte) (int, error) {
	if w != nil {
		w(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// Accept returns the next upgraded connection.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting; connections already handed out stay open.
func (l *Listener) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.srv.Close()
	})
	return nil
}

// Addr is the listening socket's address.
func (l *Listener) Addr() net.Addr { return l.raw.Addr() }

// ServeHTTP upgrades WebSocket requests and serves files for the others.
func (l *Listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		l.serveFile(w, r)
		return
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols: []string{"mqtt", "mqttv3.1"},
		// Mosquitto checks no Origin: pages from any site may connect, and
		// authentication is MQTT's.
		InsecureSkipVerify: true,
	})
	if err != nil {
		return // Accept answered the request
	}
	nc := &Conn{Conn: websocket.NetConn(context.Background(), c, websocket.MessageBinary),
		remote: remoteAddr(r)}
	if l.opts.Username != nil {
		nc.active = true
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			nc.user, nc.userOK = l.opts.Username(r.TLS.PeerCertificates[0])
		}
	}
	select {
	case l.conns <- nc:
	case <-l.done:
		c.CloseNow()
	}
}

// remoteAddr is the client's address for the logs: the first
// X-Forwarded-For entry when it is an IP address (as Mosquitto 2.1), with
// the socket's port; else the socket's address.
func remoteAddr(r *http.Request) net.Addr {
	host, port, _ := net.SplitHostPort(r.RemoteAddr)
	p, _ := strconv.Atoi(port)
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		first := strings.TrimSpace(strings.Split(xff, ",")[0])
		if ip := net.ParseIP(first); ip != nil {
			return &net.TCPAddr{IP: ip, Port: p}
		}
	}
	return &net.TCPAddr{IP: net.ParseIP(host), Port: p}
}

// serveFile serves http_dir as Mosquitto does: GET only, no path may leave
// the directory (symbolic links included), a directory serves index.html.
func (l *Listener) serveFile(w http.ResponseWriter, r *http.Request) {
	if l.root == "" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := filepath.Join(l.root, filepath.FromSlash(filepath.Clean("/"+r.URL.Path)))
	real, err := filepath.EvalSymlinks(p)
	if err != nil || (real != l.root && !strings.HasPrefix(real, l.root+string(filepath.Separator))) {
		http.NotFound(w, r)
		return
	}
	if st, err := os.Stat(real); err == nil && st.IsDir() {
		real = filepath.Join(real, "index.html")
	}
	f, err := os.Open(real)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	if l.opts.Serving != nil {
		l.opts.Serving(real)
	}
	if l.opts.HeaderTimeout > 0 {
		http.NewResponseController(w).SetWriteDeadline(time.Now().Add(l.opts.HeaderTimeout))
	}
	http.ServeContent(w, r, real, st.ModTime(), f)
}

// Conn is an upgraded connection: MQTT bytes in binary messages, the logged
// address taken from X-Forwarded-For, read deadlines reported as timeouts.
type Conn struct {
	net.Conn
	remote net.Addr

	mu       sync.Mutex
	deadline time.Time

	active, userOK bool
	user           string
}

// RemoteAddr is the client's address as logged.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// SetReadDeadline records the deadline so that its expiry reads as a
// timeout (the library reports a cancelled context).
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

// SetDeadline sets both deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.Conn.SetWriteDeadline(t)
}

func (c *Conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		c.mu.Lock()
		d := c.deadline
		c.mu.Unlock()
		if !d.IsZero() && !time.Now().Before(d) {
			return n, os.ErrDeadlineExceeded
		}
		var ce websocket.CloseError
		if errors.As(err, &ce) || errors.Is(err, net.ErrClosed) {
			return n, io.EOF // a close frame or a closed socket: the client went away
		}
	}
	return n, err
}

// Close sends the close frame without waiting for the peer's answer.
func (c *Conn) Close() error {
	go c.Conn.Close()
	return nil
}

// TLSUsername: see tlsx.Conn.TLSUsername.
func (c *Conn) TLSUsername() (name string, ok, active bool) {
	return c.user, c.userOK, c.active
}

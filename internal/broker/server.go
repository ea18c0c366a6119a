// Package broker is midge's MQTT server core: listeners, connections, the
// session registry, routing of application messages, retained messages and
// wills. See docs/DESIGN.md for the goroutine and lock structure.
package broker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"math"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midgemq/midge/internal/logcat"
	"github.com/midgemq/midge/internal/logging"
	"github.com/midgemq/midge/internal/session"
	"github.com/midgemq/midge/internal/store"
	"github.com/midgemq/midge/internal/topic"
)

// Options are the broker-wide settings (mosquitto.conf names in comments).
type Options struct {
	ClientIDPrefixes       string // clientid_prefixes
	Limits                 session.Limits
	MaxPacketSize          uint32        // max_packet_size (0 = none)
	MessageSizeLimit       uint32        // message_size_limit (0 = none)
	MaxKeepalive           uint16        // max_keepalive (0 = none)
	RetainAvailable        bool          // retain_available
	PersistentClientExpiry time.Duration // persistent_client_expiration (0 = never)
	UpgradeOutgoingQoS     bool          // upgrade_outgoing_qos
	AllowDuplicateMessages bool          // allow_duplicate_messages
	SetTCPNoDelay          bool          // set_tcp_nodelay
	CheckRetainSource      bool          // check_retain_source
	ConnectTimeout         time.Duration // midge: connect_timeout (time allowed for CONNECT)
	MaxOutboundBytes       int           // midge: bytes a connection may have unsent before QoS 0 is dropped
	// MaxQueuedInMemory (midge: max_queued_in_memory): with a store, the
	// queued messages of a persistent session kept in RAM; later ones are
	// only in the store until read back (0 = all in RAM). Read by SetStore.
	MaxQueuedInMemory int
}

// DefaultOptions returns Mosquitto 2.0's defaults.
func DefaultOptions() Options {
	return Options{
		Limits:            session.Limits{MaxInflight: 20, MaxQueued: 1000},
		RetainAvailable:   true,
		ConnectTimeout:    90 * time.Second,
		MaxOutboundBytes:  4 << 20,
		MaxQueuedInMemory: 256,
	}
}

// Listener describes one listening socket to open.
type Listener struct {
	Network        string // "tcp4" or "tcp6"
	Addr           string // host:port
	Port           int    // as configured (printed in "on port %d")
	MaxConnections int    // -1 = unlimited
	MountPoint     string
	MaxQoS         byte
	// UseUsernameAsClientID replaces the client id with the username
	// (use_username_as_clientid); a client without one is refused.
	UseUsernameAsClientID bool
	Security              Security
	Websockets            bool // no "New connection from" line (reference §1.3)
	// MaxTopicAlias is max_topic_alias: the v5 Topic Alias Maximum offered
	// in CONNACK (none when 0); an inbound alias above it is refused with
	// DISCONNECT 0x94.
	MaxTopicAlias uint16
	// Admission, when set, has already counted the listener's sockets
	// against max_connections and applied set_tcp_nodelay (admit.go).
	Admission *Admission
}

// Security is the part of the settings that per_listener_settings makes per
// listener; it can change on SIGHUP.
type Security struct {
	AllowAnonymous          bool   // allow_anonymous (resolved)
	AllowZeroLengthClientID bool   // allow_zero_length_clientid
	AutoIDPrefix            string // auto_id_prefix
	// Auth, when set, decides logins and topic access (password_file,
	// acl_file). When nil, anonymous access alone decides (reference §4.2)
	// and every topic is allowed, except client writes to $SYS.
	Auth Auth
}

// Access is what a client wants to do with a topic.
type Access int

const (
	AccessRead      Access = 1 // receive a message (checked per delivery)
	AccessWrite     Access = 2 // publish (and a will, when it is sent)
	AccessSubscribe Access = 4 // subscribe to a filter
)

// Client identifies a connected client to an Auth.
type Client struct {
	ID       string
	Username string // "" when none was given
	HasUser  bool
	Listener int // port of the listener the client came in on
}

// Auth is the authentication and authorisation hook (issue: password and ACL
// files). Implementations must be safe for concurrent use and fast: Allow
// runs on the delivery path.
type Auth interface {
	// Login decides a CONNECT, anonymous access included. false sends
	// CONNACK 5 (v3) / 0x87 (v5) and "Client %s disconnected, not authorised."
	Login(c Client, password []byte, hasPassword bool) bool
	// Allow decides a topic access.
	Allow(c Client, topic string, a Access) bool
}

// QuickLogin is implemented by an Auth that can tell whether its Login for
// c is cheap (no password to hash). A CONNECT is handled on the accepting
// or the poller's goroutine (accept_linux.go) only when its login is
// quick; a password check, which can take milliseconds, runs on the
// connection's own goroutine so that it holds up no one else. A quick
// Login may be called twice for one CONNECT (when it refuses, or the
// sessions' lock is held, the CONNECT is run again on its own goroutine),
// so it must have no side effects.
type QuickLogin interface {
	QuickLogin(c Client) bool
}

// Server is one broker.
type Server struct {
	log *logging.Logger

	optMu sync.RWMutex
	opts  Options

	subs     *topic.Trie[*session.Session]
	retained *topic.Retained[*session.Message]

	mu       sync.Mutex // guards sessions and offline
	sessions map[string]*session.Session
	// offline holds each offline session that something will come due for
	// (its expiry, or a held will), with the unix time of the earliest, so
	// that the once-a-second expiry looks at those alone: a walk of every
	// session under mu held up each CONNECT for 4.5 ms at 15,000 clients
	// (docs/BENCHMARKS.md, "Connect storms: the expiry walk").
	offline map[*session.Session]int64

	lnMu      sync.Mutex
	listeners []*listener
	conns     sync.WaitGroup // every connection, until conn.end (parked ones too)
	// accepted holds every accepted connection until conn.end, so that
	// Shutdown reaches those that have no session yet (waiting for, or
	// in the middle of, their CONNECT).
	acceptedMu sync.Mutex
	accepted   map[*conn]struct{}
	// connectPaths counts CONNECTs handled without a reader
	// (accept_linux.go): on the accepting goroutine, on the poller's, and
	// handed from either to a goroutine of their own.
	connectPaths struct{ accept, poll, later atomic.Int64 }
	park         parkPoller // for idle connections (park.go)
	quit         chan struct{}
	closing      atomic.Bool

	forward atomic.Pointer[Forwarder]
	pers    *persister // nil without persistence (persist.go)
	// storeRef is pers.db for readers outside the broker's goroutines.
	storeRef atomic.Pointer[store.DB]

	Stats Stats
}

// New creates a server; call Listen then Serve.
func New(log *logging.Logger, o Options) *Server {
	return &Server{
		log:      log,
		opts:     o,
		subs:     topic.NewTrie[*session.Session](),
		retained: topic.NewRetainedSized(func(m *session.Message) int { return len(m.Payload) }),
		sessions: map[string]*session.Session{},
		offline:  map[*session.Session]int64{},
		accepted: map[*conn]struct{}{},
		quit:     make(chan struct{}),
	}
}

// Options returns the current options.
func (s *Server) Options() Options {
	s.optMu.RLock()
	defer s.optMu.RUnlock()
	return s.opts
}

// SetOptions replaces the reloadable options (SIGHUP). Limits apply to new
// connections, as in Mosquitto (which does not reload most of them at all).
func (s *Server) SetOptions(o Options) {
	s.optMu.Lock()
	s.opts = o
	s.optMu.Unlock()
}

type listener struct {
	spec  Listener
	ln    net.Listener
	count atomic.Int64
	sec   atomic.Pointer[Security]
	// clients counts connected clients by protocol (3.1, 3.1.1, 5.0):
	// sockets whose CONNECT was accepted (stats.go).
	clients [3]atomic.Int64
	// up is true while the accept loop runs (readiness, figures.go).
	up atomic.Bool
	// acc accepts instead of ln.Accept: a plain TCP listener on Linux
	// (sock_linux.go); nil otherwise.
	acc *sockAccepter
}

// SetSecurity replaces the security settings of the i-th listener opened
// (SIGHUP reload).
func (s *Server) SetSecurity(i int, sec Security) {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	if i < len(s.listeners) {
		s.listeners[i].sec.Store(&sec)
	}
}

// Listen opens a listener and logs it as Mosquitto does. It returns the
// error text (strerror-like) on failure.
func (s *Server) Listen(l Listener) (net.Addr, error) {
	ln, err := ListenSocket(l.Network, l.Addr)
	if err != nil {
		return nil, err
	}
	if l.Port == 0 {
		l.Port = ln.Addr().(*net.TCPAddr).Port
	}
	if l.Network == "tcp6" {
		s.log.Log(logcat.ListenIPv6, l.Port)
	} else {
		s.log.Log(logcat.ListenIPv4, l.Port)
	}
	s.AddListener(ln, l)
	return ln.Addr(), nil
}

// ListenSocket opens a listening socket whose connections, unlike Go's
// default, do not turn on TCP keepalive probes: Mosquitto does not set
// SO_KEEPALIVE (clients have MQTT's keepalive), and setting it cost three
// setsockopt calls per accepted connection.
func ListenSocket(network, addr string) (net.Listener, error) {
	lc := net.ListenConfig{KeepAlive: -1}
	return lc.Listen(context.Background(), network, addr)
}

// AddListener serves MQTT on a listener the caller opened: TLS, websockets
// or a unix socket wrap their own net.Listener and hand it here, so the
// broker itself is transport-agnostic. The caller logs the opening line.
// Connections' RemoteAddr gives the address printed in the logs. On Linux
// a plain *net.TCPListener is accepted from without Go's net
// (sock_linux.go): its sockets get no TCP keepalive whatever the listener
// was opened with (as ListenSocket's), and the broker keeps a duplicate of
// its descriptor, so only Shutdown stops the accepting and frees the port.
func (s *Server) AddListener(ln net.Listener, l Listener) {
	nl := &listener{spec: l, ln: ln}
	if l.Admission == nil {
		nl.acc = newSockAccepter(ln, s.noDelayRaw)
	}
	sec := l.Security
	nl.sec.Store(&sec)
	s.lnMu.Lock()
	s.listeners = append(s.listeners, nl)
	s.lnMu.Unlock()
}

// ErrorText renders a Go network error the way strerror would print it.
func ErrorText(err error) string {
	var errno interface{ Error() string }
	var se *net.OpError
	if errors.As(err, &se) && se.Err != nil {
		err = se.Err
	}
	var sys interface{ Unwrap() error }
	for errors.As(err, &sys) {
		inner := sys.Unwrap()
		if inner == nil {
			break
		}
		err = inner
	}
	errno = err
	t := errno.Error()
	if t == "" {
		return t
	}
	return strings.ToUpper(t[:1]) + t[1:]
}

// Serve accepts connections on every listener until Shutdown.
func (s *Server) Serve() {
	s.lnMu.Lock()
	lns := append([]*listener(nil), s.listeners...)
	s.lnMu.Unlock()
	var wg sync.WaitGroup
	for _, l := range lns {
		wg.Add(1)
		go func() { defer wg.Done(); s.acceptLoop(l) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); s.expiryLoop() }()
	wg.Wait()
}

func (s *Server) acceptLoop(l *listener) {
	l.up.Store(true)
	defer l.up.Store(false)
	var delay time.Duration
	accept := l.ln.Accept
	if l.acc != nil {
		accept = l.acc.Accept
	}
	for {
		nc, err := accept()
		if err != nil {
			if s.closing.Load() {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) || strings.Contains(err.Error(), "too many open files") {
				if strings.Contains(err.Error(), "too many open files") {
					s.log.Log(logcat.TooManyFiles)
				}
				if delay == 0 {
					delay = 5 * time.Millisecond
				} else if delay < time.Second {
					delay *= 2
				}
				select {
				case <-time.After(delay):
				case <-s.quit:
					return
				}
				continue
			}
			return
		}
		delay = 0
		s.accept(l, nc)
	}
}

func (s *Server) accept(l *listener, nc net.Conn) {
	ip, port := splitHostPort(nc.RemoteAddr())
	if l.spec.Admission == nil {
		// Mosquitto checks max_connections > 0: 0, like -1, means unlimited.
		if l.spec.MaxConnections > 0 && l.count.Load() >= int64(l.spec.MaxConnections) {
			s.log.Log(logcat.MaxConnections, ip)
			nc.Close()
			return
		}
		s.setNoDelay(nc) // admit.go: TCP under TLS too
	}
	l.count.Add(1)
	s.Stats.SocketsAccepted.Add(1)
	if s.log.On(logcat.NewConnection) && !l.spec.Websockets {
		s.log.Log(logcat.NewConnection, ip, port, l.spec.Port)
	}
	c := newConn(s, l, nc, ip, port)
	s.conns.Add(1) // conn.end: Done and l.count.Add(-1)
	s.acceptedMu.Lock()
	s.accepted[c] = struct{}{}
	s.acceptedMu.Unlock()
	if s.closing.Load() {
		// Shutdown may have listed the accepted connections already.
		c.fail(reasonShutdown)
	}
	if !c.connectOnAccept() {
		go c.serve()
	}
}

func splitHostPort(a net.Addr) (string, int) {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip := ta.IP
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		return ip.String(), ta.Port
	}
	h, p, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String(), 0
	}
	n, _ := strconv.Atoi(p)
	return h, n
}

// Shutdown stops accepting, publishes the wills of connected clients and
// closes every connection, then waits for their goroutines.
func (s *Server) Shutdown() {
	if s.closing.Swap(true) {
		return
	}
	close(s.quit)
	s.lnMu.Lock()
	for _, l := range s.listeners {
		l.ln.Close()
		if l.acc != nil {
			l.acc.Close()
		}
	}
	s.lnMu.Unlock()
	s.mu.Lock()
	var live []*conn
	for _, ss := range s.sessions {
		ss.Mu.Lock()
		if c, ok := ss.Conn.(*conn); ok && c != nil {
			live = append(live, c)
		}
		ss.Mu.Unlock()
	}
	s.mu.Unlock()
	// And those without a session: a socket that has sent no CONNECT yet
	// would otherwise hold Shutdown until connect_timeout.
	s.acceptedMu.Lock()
	for c := range s.accepted {
		live = append(live, c)
	}
	s.acceptedMu.Unlock()
	for _, c := range live {
		c.fail(reasonShutdown) // wakes the parked ones
	}
	s.conns.Wait()
	s.park.close()
	// Delayed wills still held are sent at shutdown, as Mosquitto does.
	for _, w := range s.takeHeldWills() {
		s.publishWill(w)
	}
}

// expiryLoop expires disconnected persistent sessions once a second, and
// returns memory to the system when the broker has gone quiet (memidle.go).
func (s *Server) expiryLoop() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	mem := newIdleRelease()
	for {
		select {
		case <-s.quit:
			return
		case now := <-t.C:
			s.expireSessions(now.Unix())
			mem.tick()
		}
	}
}

// never is a due time that never comes.
const never = int64(math.MaxInt64)

// offlineDue returns the unix time at which the offline session ss expires
// or its held will is due, whichever is first; never for a session that is
// online, ended, or kept for ever with no will held. ss.Mu held.
func offlineDue(ss *session.Session) int64 {
	if ss.Conn != nil || ss.DisconnectedAt == 0 || ss.Expired {
		return never
	}
	due := never
	if ss.Expiry != ^uint32(0) {
		due = ss.DisconnectedAt + int64(ss.Expiry)
	}
	if w := ss.Will; w != nil {
		due = min(due, ss.DisconnectedAt+int64(w.Delay))
	}
	return due
}

// noteOffline files ss in s.offline under its due time, or takes it out
// when nothing will come due. s.mu and ss.Mu held (Restore, which runs
// before Serve, holds neither: nothing else runs yet).
func (s *Server) noteOffline(ss *session.Session) {
	if due := offlineDue(ss); due != never {
		s.offline[ss] = due
	} else {
		delete(s.offline, ss)
	}
}

// expireSessions ends the offline sessions whose expiry has passed and
// publishes the held wills that have come due. It looks only at sessions
// due by now (s.offline), so the CONNECTs waiting for s.mu meanwhile are
// not held up by the sessions of connected clients.
func (s *Server) expireSessions(now int64) {
	var expired []*session.Session
	var due []*session.Session // held wills whose delay has passed (willdelay.go)
	s.mu.Lock()
	for ss, at := range s.offline {
		if at > now {
			continue
		}
		ss.Mu.Lock()
		if ss.Conn == nil && ss.DisconnectedAt != 0 && ss.Expiry != ^uint32(0) &&
			now-ss.DisconnectedAt >= int64(ss.Expiry) {
			ss.Expired = true
			if s.sessions[ss.ID] == ss {
				delete(s.sessions, ss.ID)
			}
			delete(s.offline, ss)
			expired = append(expired, ss)
			s.persistDiscard(ss)
		} else if willDue(ss, now) {
			due = append(due, ss) // publishDueWill files it again
		} else {
			s.noteOffline(ss)
		}
		ss.Mu.Unlock()
	}
	s.mu.Unlock()
	for _, ss := range due {
		s.publishDueWill(ss, now)
	}
	for _, ss := range expired {
		// Subscriptions go first, so that once the line is logged no new
		// message is routed to the ended session (a shared group picks
		// another member).
		s.dropSubscriptions(ss)
		s.log.Log(logcat.Expired, ss.ID)
		s.Stats.ClientsExpired.Add(1)
		// A will still held is published when the session ends [MQTT5-3.1.2-8].
		ss.Mu.Lock()
		w := ss.Will
		ss.Will = nil
		ss.Mu.Unlock()
		if w != nil {
			s.publishWill(w)
		}
	}
}

// effectiveExpiry applies persistent_client_expiration to a session expiry.
func (s *Server) effectiveExpiry(e uint32) uint32 {
	pce := s.Options().PersistentClientExpiry
	if pce > 0 && e != 0 {
		secs := uint32(pce / time.Second)
		if e == ^uint32(0) || secs < e {
			return secs
		}
	}
	return e
}

func (s *Server) dropSubscriptions(ss *session.Session) {
	ss.Mu.Lock()
	filters := make([]string, 0, len(ss.Subs))
	for f := range ss.Subs {
		filters = append(filters, f)
	}
	ss.Subs = nil
	ss.Mu.Unlock()
	for _, f := range filters {
		s.subs.Unsubscribe(f, ss)
	}
}

// autoID makes a client id in Mosquitto's form: prefix + 8-4-4-4-12
// uppercase hex from 16 random bytes, each byte written low nibble first.
func autoID(prefix string) string {
	var b [16]byte
	rand.Read(b[:])
	var sb strings.Builder
	sb.WriteString(prefix)
	for i, v := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			sb.WriteByte('-')
		}
		h := hex.EncodeToString([]byte{v<<4 | v>>4})
		sb.WriteString(strings.ToUpper(h))
	}
	return sb.String()
}

// SessionCount returns the number of known sessions (connected or not).
func (s *Server) SessionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

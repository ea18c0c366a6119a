package config

import (
	"fmt"
	"strings"
	"time"
)

// Log type bits, the same values as Mosquitto's MOSQ_LOG_* (and logcat.Level).
const (
	LogInfo        uint32 = 0x01
	LogNotice      uint32 = 0x02
	LogWarning     uint32 = 0x04
	LogErr         uint32 = 0x08
	LogDebug       uint32 = 0x10
	LogSubscribe   uint32 = 0x20
	LogUnsubscribe uint32 = 0x40
	LogWebsockets  uint32 = 0x80
	LogInternal    uint32 = 0x80000000
	LogAll         uint32 = 0xFFFFFFFF
	// LogDefault is error+warning+notice+information.
	LogDefault = LogErr | LogWarning | LogNotice | LogInfo
)

// Log destination bits (log_dest).
const (
	DestStdout uint32 = 1 << iota
	DestStderr
	DestSyslog
	DestTopic
	DestFile
	DestDLT
)

// Security holds the options that are global, or per listener when
// per_listener_settings is true (scope S in reference §2.4).
type Security struct {
	// AllowAnonymous is -1 while unset, then 0 or 1 once resolved.
	AllowAnonymous          int
	AllowZeroLengthClientID bool
	AutoIDPrefix            string
	PasswordFile            string // password_file (loaded by internal/auth)
	ACLFile                 string // acl_file (loaded by internal/acl)
	PSKFile                 string // not supported yet; kept for later
}

func defaultSecurity() Security {
	return Security{AllowAnonymous: -1, AllowZeroLengthClientID: true}
}

// TLS holds a listener's TLS options as written. None is accepted yet; the
// fields exist so the options can be switched on without reshaping Listener.
type TLS struct {
	CAFile, CAPath, CertFile, KeyFile, CRLFile string
	Ciphers, CiphersTLS13, TLSVersion          string
	DHParamFile, Engine, Keyform, EngineKpass  string
	PSKHint                                    string
	RequireCertificate                         string
	UseIdentityAsUsername                      string
	UseSubjectAsUsername                       string
}

// Listener is one listening socket's settings.
type Listener struct {
	Port                  int
	Host                  string // bind address; empty = all addresses
	UnixPath              string // port 0 + path (not supported yet)
	BindInterface         string
	SocketDomain          string // "", "ipv4" or "ipv6"
	Protocol              string // "mqtt" or "websockets"
	MaxConnections        int    // -1 = unlimited
	MountPoint            string
	MaxQoS                int
	MaxTopicAlias         int
	UseUsernameAsClientID bool
	HTTPDir               string
	// Security is used only when Config.PerListenerSettings is true.
	Security Security
	TLS      TLS
	// Default marks the "default listener" built from port, bind_address and
	// listener options given before any listener line.
	Default bool
}

func defaultListener() Listener {
	return Listener{Protocol: "mqtt", MaxConnections: -1, MaxQoS: 2, MaxTopicAlias: 10, Security: defaultSecurity()}
}

// Config is a parsed mosquitto.conf. Default gives Mosquitto's defaults.
type Config struct {
	// Listeners are the configured listeners in file order, then the
	// default listener if one was configured. Empty in local-only mode.
	Listeners []Listener
	// LocalOnly is true when no listener, port or bind_address line was
	// given: the broker listens on 127.0.0.1 and ::1 only (see LocalListeners).
	LocalOnly           bool
	PerListenerSettings bool
	// Security is the global security scope (per_listener_settings false).
	Security Security

	PidFile                    string
	User                       string
	MaxInflightMessages        int // 0 = unlimited
	MaxInflightBytes           int64
	MaxQueuedMessages          int // 0 = unlimited
	MaxQueuedBytes             int64
	QueueQoS0Messages          bool
	MaxPacketSize              uint32 // 0 = no limit
	MessageSizeLimit           uint32 // 0 = no limit
	MaxKeepalive               int    // 0 = no limit (code default; man says 65535)
	RetainAvailable            bool
	PersistentClientExpiration time.Duration // 0 = never
	UpgradeOutgoingQoS         bool
	AllowDuplicateMessages     bool // code default false (man says true)
	SetTCPNoDelay              bool
	CheckRetainSource          bool // code default false (man says true)
	SysInterval                int  // seconds; 0 disables $SYS
	MemoryLimit                int64
	ConnectionMessages         bool
	ClientIDPrefixes           string
	Persistence                bool
	PersistenceFile            string // empty = "mosquitto.db"
	PersistenceLocation        string
	AutosaveInterval           int
	AutosaveOnChanges          bool
	// PersistenceSync (midge, persistence_sync): "always" (default: an ack
	// waits for fsync) or "periodic" (fsync once a second).
	PersistenceSync string
	// MaxQueuedInMemory (midge, max_queued_in_memory): with persistence,
	// the queued messages of a persistent session kept in RAM; the others
	// are only in the store until read back (0 = all in RAM). Default 256.
	MaxQueuedInMemory int

	LogDest            uint32 // Dest* bits
	LogFile            string // path for log_dest file
	LogType            uint32 // Log* bits
	LogFacility        int    // -1 = daemon (default), else LOCAL0..7
	LogTimestamp       bool
	LogTimestampFormat string // strftime format; empty = epoch seconds
	// LogDialect (midge): "2.0" (default), "1.3" or "json".
	LogDialect            string
	WebsocketsLogLevel    int
	WebsocketsHeadersSize int
	// ConnectTimeout (midge, connect_timeout): how long a socket may stay
	// without a complete CONNECT. 0 = no limit.
	ConnectTimeout time.Duration
	// MetricsAddress (midge, metrics_address): host:port of the HTTP server
	// for Prometheus metrics and health checks; empty = off. Not reloaded.
	MetricsAddress string

	// Notes are the notices, warnings and non-fatal errors printed while
	// parsing, in order.
	Notes []Note
}

// Default returns Mosquitto 2.0.20's defaults (code values, reference §8).
func Default() *Config {
	return &Config{
		LocalOnly:           true,
		Security:            defaultSecurity(),
		User:                "mosquitto",
		MaxInflightMessages: 20,
		MaxQueuedMessages:   1000,
		MaxQueuedInMemory:   256,
		RetainAvailable:     true,
		SysInterval:         10,
		ConnectionMessages:  true,
		AutosaveInterval:    1800,
		LogDest:             DestStderr,
		LogType:             LogDefault,
		LogFacility:         -1,
		LogTimestamp:        true,
		LogDialect:          "2.0",
		ConnectTimeout:      90 * time.Second,
	}
}

// SecurityFor returns the security scope that applies to l.
func (c *Config) SecurityFor(l *Listener) *Security {
	if c.PerListenerSettings && l != nil {
		return &l.Security
	}
	return &c.Security
}

// PersistenceFilePath joins persistence_location and persistence_file as
// Mosquitto does.
func (c *Config) PersistenceFilePath() string {
	f := c.PersistenceFile
	if f == "" {
		f = "mosquitto.db"
	}
	if c.PersistenceLocation != "" {
		return c.PersistenceLocation + "/" + f
	}
	return f
}

// LocalListeners returns the listeners of local-only mode: 127.0.0.1 and ::1
// on each port (1883 when ports is empty), with anonymous access allowed.
func (c *Config) LocalListeners(ports []int) []Listener {
	if len(ports) == 0 {
		ports = []int{1883}
	}
	var out []Listener
	for _, p := range ports {
		for _, h := range []string{"127.0.0.1", "::1"} {
			l := defaultListener()
			l.Port, l.Host = p, h
			l.Security.AllowAnonymous = 1
			l.Security.AutoIDPrefix = "auto-"
			out = append(out, l)
		}
	}
	return out
}

// Note is a line printed while parsing that does not stop the parse.
type Note struct {
	Code Code
	Args []any
}

// Pos is a place in a config file.
type Pos struct {
	File string
	Line int
}

// Problem is an error found while reading the configuration.
type Problem struct {
	Code Code
	Args []any
	// File and Line locate the problem; Line is 0 when Mosquitto prints no
	// "Error found at" line for it (e.g. a file that cannot be opened).
	File string
	Line int
	// Via holds the include_dir lines through which the file was reached;
	// Mosquitto prints an "Error found at" line for each of them too.
	Via []Pos
}

// Positions lists the "Error found at FILE:LINE." lines to print after the
// problem's own line, in order.
func (p Problem) Positions() []Pos {
	var out []Pos
	if p.Line > 0 {
		out = append(out, Pos{p.File, p.Line})
	}
	return append(out, p.Via...)
}

// Error is returned by Load, Parse and ParseArgs.
type Error struct {
	Problems []Problem
	// Notes are the lines printed before the failure, to be shown first.
	Notes []Note
}

// Error renders codes and arguments; user-facing text comes from the log
// catalog, keyed by Problem.Code.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config:")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString(";")
		}
		fmt.Fprintf(&b, " %s", p.Code)
		if len(p.Args) > 0 {
			fmt.Fprintf(&b, " %q", p.Args)
		}
		for _, at := range p.Positions() {
			fmt.Fprintf(&b, " at %s:%d", at.File, at.Line)
		}
	}
	return b.String()
}

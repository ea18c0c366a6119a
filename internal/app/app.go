// Package app is the midge program: command line, configuration, logging
// set-up, privilege drop, listeners, signals. It wires the leaf packages to
// the broker and owns the process lifecycle (reference §1.2, §2.1).
package app

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/midgemq/midge/internal/auth"
	"github.com/midgemq/midge/internal/bench"
	"github.com/midgemq/midge/internal/broker"
	"github.com/midgemq/midge/internal/config"
	"github.com/midgemq/midge/internal/fdtable"
	"github.com/midgemq/midge/internal/heapfloor"
	"github.com/midgemq/midge/internal/logcat"
	"github.com/midgemq/midge/internal/logging"
	"github.com/midgemq/midge/internal/logread"
	"github.com/midgemq/midge/internal/procs"
	"github.com/midgemq/midge/internal/session"
)

// CompatVersion is the Mosquitto version midge's lines and $SYS claim to be,
// so that log parsers keyed on it keep working.
const CompatVersion = "2.0.20"

// Version13 and BuildDate13 fill the 1.3 dialect's start line.
const (
	Version13   = "1.3.5"
	BuildDate13 = "2014-09-04 20:00:00+0000"
)

// Exit statuses, as Mosquitto.
const (
	exitOK     = 0
	exitFail   = 1
	exitConfig = 3
)

// Main runs midge with args (without the program name) and returns the exit
// status.
func Main(args []string) int {
	if len(args) > 0 && args[0] == "logs" {
		return logread.Main(args[1:], os.Stdin, os.Stdout, os.Stderr)
	}
	if len(args) > 0 && args[0] == "passwd" {
		return auth.Passwd(args[1:], os.Stdin, os.Stdout, os.Stderr)
	}
	if len(args) > 0 && args[0] == "bench" {
		return bench.Main(args[1:], os.Stdout, os.Stderr)
	}
	a, err := config.ParseArgs(args)
	if err != nil {
		printArgsError(os.Stderr, err)
		fmt.Fprint(os.Stdout, config.Usage(CompatVersion))
		return exitConfig
	}
	if a.Help {
		fmt.Fprint(os.Stdout, config.Usage(CompatVersion))
		return exitConfig
	}
	log := logging.New()
	cfg, err := loadConfig(log, a.ConfigFile)
	if err != nil {
		return exitConfig
	}
	cfg.ApplyArgs(a)
	if a.TestConfig {
		log.Log(logcat.TestConfigOK, a.ConfigFile)
		return exitOK
	}
	if a.Daemon && os.Getenv(daemonEnv) == "" {
		return daemonize(log)
	}
	r := &runner{log: log, args: a, cfg: cfg}
	return r.run()
}

// printArgsError prints a command-line problem as Mosquitto does: on stderr,
// without a timestamp.
func printArgsError(w io.Writer, err error) {
	ce, ok := err.(*config.Error)
	if !ok {
		fmt.Fprintln(w, err)
		return
	}
	for _, p := range ce.Problems {
		if e := logcat.ByKey(string(p.Code)); e != nil {
			fmt.Fprintln(w, fmt.Sprintf(e.V20, p.Args...))
		} else {
			fmt.Fprintln(w, ce.Error())
		}
	}
}

// loadConfig reads the config (or the defaults), printing notes and errors
// through the start-up logger exactly as Mosquitto prints them.
func loadConfig(log *logging.Logger, path string) (*config.Config, error) {
	var cfg *config.Config
	var err error
	if path == "" {
		// An empty file resolves the defaults exactly as a config would.
		cfg, err = config.Parse(strings.NewReader(""), "")
	} else {
		cfg, err = config.Load(path)
	}
	var notes []config.Note
	if cfg != nil {
		notes = cfg.Notes
	}
	ce, _ := err.(*config.Error)
	if ce != nil {
		notes = ce.Notes
	}
	for _, n := range notes {
		logCode(log, n.Code, n.Args)
	}
	if err != nil {
		if ce == nil {
			fmt.Fprintln(os.Stderr, err)
			return nil, err
		}
		for _, p := range ce.Problems {
			logCode(log, p.Code, p.Args)
			for _, pos := range p.Positions() {
				logCode(log, config.CodeErrorFoundAt, []any{pos.File, pos.Line})
			}
		}
		return nil, err
	}
	return cfg, nil
}

func logCode(log *logging.Logger, code config.Code, args []any) {
	e := logcat.ByKey(string(code))
	if e == nil {
		fmt.Fprintf(os.Stderr, "Error: %s %v\n", code, args)
		return
	}
	log.Log(e, args...)
}

// loggingOptions converts the config's log settings.
func loggingOptions(cfg *config.Config) logging.Options {
	o := logging.Options{
		Types:              logcat.Level(cfg.LogType),
		Timestamp:          cfg.LogTimestamp,
		TimestampFormat:    cfg.LogTimestampFormat,
		ConnectionMessages: cfg.ConnectionMessages,
		Facility:           cfg.LogFacility,
	}
	switch cfg.LogDialect {
	case "1.3":
		o.Format = logging.Format13
	case "json":
		o.Format = logging.FormatJSON
	}
	d := cfg.LogDest
	add := func(bit uint32, kind string) {
		if d&bit != 0 {
			o.Dests = append(o.Dests, logging.Dest{Kind: kind})
		}
	}
	add(config.DestStdout, "stdout")
	add(config.DestStderr, "stderr")
	add(config.DestSyslog, "syslog")
	add(config.DestTopic, "topic")
	if d&config.DestFile != 0 {
		o.Dests = append(o.Dests, logging.Dest{Kind: "file", Path: cfg.LogFile})
	}
	return o
}

// brokerOptions converts the config's broker-wide settings.
func brokerOptions(cfg *config.Config) broker.Options {
	o := broker.DefaultOptions()
	o.ClientIDPrefixes = cfg.ClientIDPrefixes
	o.Limits = session.Limits{
		MaxInflight:      cfg.MaxInflightMessages,
		MaxInflightBytes: cfg.MaxInflightBytes,
		MaxQueued:        cfg.MaxQueuedMessages,
		MaxQueuedBytes:   cfg.MaxQueuedBytes,
		QueueQoS0:        cfg.QueueQoS0Messages,
	}
	o.MaxPacketSize = cfg.MaxPacketSize
	o.MessageSizeLimit = cfg.MessageSizeLimit
	o.MaxKeepalive = uint16(cfg.MaxKeepalive)
	o.RetainAvailable = cfg.RetainAvailable
	o.PersistentClientExpiry = cfg.PersistentClientExpiration
	o.UpgradeOutgoingQoS = cfg.UpgradeOutgoingQoS
	o.AllowDuplicateMessages = cfg.AllowDuplicateMessages
	o.SetTCPNoDelay = cfg.SetTCPNoDelay
	o.CheckRetainSource = cfg.CheckRetainSource
	o.ConnectTimeout = cfg.ConnectTimeout
	o.MaxQueuedInMemory = cfg.MaxQueuedInMemory
	return o
}

// reloadOptions applies what Mosquitto reloads on SIGHUP (reference §2.5)
// onto the running options: not the inflight/queue/packet limits.
func reloadOptions(cur broker.Options, cfg *config.Config) broker.Options {
	n := brokerOptions(cfg)
	cur.ClientIDPrefixes = n.ClientIDPrefixes
	cur.AllowDuplicateMessages = n.AllowDuplicateMessages
	cur.MessageSizeLimit = n.MessageSizeLimit
	cur.PersistentClientExpiry = n.PersistentClientExpiry
	cur.Limits.QueueQoS0 = n.Limits.QueueQoS0
	cur.UpgradeOutgoingQoS = n.UpgradeOutgoingQoS
	return cur
}

func security(cfg *config.Config, l *config.Listener) broker.Security {
	sec := cfg.SecurityFor(l)
	return broker.Security{
		AllowAnonymous:          sec.AllowAnonymous != 0,
		AllowZeroLengthClientID: sec.AllowZeroLengthClientID,
		AutoIDPrefix:            sec.AutoIDPrefix,
		Auth:                    authFor(cfg, l), // security.go
	}
}

type runner struct {
	log  *logging.Logger
	args config.Args
	cfg  *config.Config
	srv  *broker.Server
	// listeners as opened, with the config listener they came from
	lcfg []config.Listener
	// TLS certificates reloaded on SIGHUP (transport.go)
	transport transportState
}

func (r *runner) run() int {
	cfg := r.cfg
	log := r.log
	// Signals are caught from the start, so a SIGHUP or SIGTERM that arrives
	// while listeners open is handled, not fatal.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	if code := dropPrivileges(log, cfg.User); code != 0 {
		return code
	}
	if cfg.PidFile != "" {
		if err := os.WriteFile(cfg.PidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			log.Log(logcat.PidFileError)
			return exitFail
		}
		defer os.Remove(cfg.PidFile)
	}
	if err := log.Configure(loggingOptions(cfg)); err != nil {
		log.Log(logcat.LogFileError, cfg.LogFile)
	}
	defer log.Close()
	if os.Geteuid() == 0 {
		log.Log(logcat.RootWarning)
	}
	if cfg.LogDialect == "1.3" {
		log.Log(logcat.Starting, Version13, BuildDate13)
	} else {
		log.Log(logcat.Starting, CompatVersion)
	}
	if r.args.ConfigFile != "" {
		log.Log(logcat.ConfigLoaded, r.args.ConfigFile)
	} else {
		log.Log(logcat.DefaultConfig)
	}
	listeners := cfg.Listeners
	if cfg.LocalOnly {
		log.Log(logcat.LocalOnly1)
		log.Log(logcat.LocalOnly2)
		log.Log(logcat.LocalOnly3)
		listeners = cfg.LocalListeners(r.args.Ports)
	}
	// Password and ACL files load before the listeners open (security.go).
	if code := loadSecurity(log, cfg); code != 0 {
		return code
	}
	r.srv = broker.New(log, brokerOptions(cfg))
	stopMetrics, code := r.startMetrics(time.Now()) // metrics.go
	if code != 0 {
		return code
	}
	defer stopMetrics()
	// Restore before any listener opens (persist.go).
	if code := r.openStore(); code != 0 {
		return code
	}
	defer r.closeStore()
	stopTopic := r.startLogTopic()
	defer stopTopic()
	// Room for every connection's descriptor before the first arrives, so
	// that a connect storm never waits for the table to grow (fdtable).
	fdtable.Reserve(descriptorsFor(listeners))
	if code := r.openListeners(listeners); code != 0 {
		return code
	}
	log.Log(logcat.Running, CompatVersion)
	// One core while the load is light, all of them when busy (procs).
	defer procs.Start()()
	// No collection every few hundred connections while the heap is small
	// (heapfloor).
	defer heapfloor.Start(heapfloor.Floor)()
	sysLoop := r.srv.StartSys(broker.SysOptions{Interval: time.Duration(cfg.SysInterval) * time.Second, Version: CompatVersion})
	done := make(chan struct{})
	go func() { r.srv.Serve(); close(done) }()
	if sysLoop != nil {
		go sysLoop()
	}
	for sig := range sigs {
		switch sig {
		case syscall.SIGUSR1:
			r.saveStore()
		case syscall.SIGHUP:
			r.reload()
		case syscall.SIGINT, syscall.SIGTERM:
			log.Log(logcat.Terminating, r.version())
			r.srv.Shutdown()
			r.saveStore()
			<-done
			return exitOK
		}
	}
	return exitOK
}

// version is the broker version the start and stop lines name: 1.3.5 in
// the 1.3 dialect, so the pair matches a 1.3 log.
func (r *runner) version() string {
	if r.cfg.LogDialect == "1.3" {
		return Version13
	}
	return CompatVersion
}

// startLogTopic serves log_dest topic: lines are handed to a goroutine that
// publishes them, so logging never re-enters the broker while the logger's
// lock is held. If the publisher falls behind, lines are dropped rather than
// blocking the broker.
func (r *runner) startLogTopic() (stop func()) {
	type line struct {
		level logcat.Level
		text  string
	}
	ch := make(chan line, 1024)
	done := make(chan struct{})
	r.log.SetTopic(func(level logcat.Level, text string) {
		select {
		case ch <- line{level, text}:
		default:
		}
	})
	go func() {
		defer close(done)
		for l := range ch {
			suffix := logging.TopicSuffix(l.level)
			if suffix == "" {
				continue
			}
			// QoS 2, not retained, 20 s message expiry (reference §1.1).
			r.srv.Publish(&session.Message{Topic: "$SYS/broker/log/" + suffix, Payload: []byte(l.text),
				QoS: 2, ExpiresAt: time.Now().Unix() + 20})
		}
	}()
	return func() {
		r.log.SetTopic(nil)
		close(ch)
		<-done
	}
}

// openListeners opens every listener; a bind failure stops the broker.
func (r *runner) openListeners(ls []config.Listener) int {
	log := r.log
	for i := range ls {
		l := &ls[i]
		// Websockets and unix sockets, and TLS for MQTT: transport.go.
		if done, code := r.openSpecial(l); done {
			if code != 0 {
				return code
			}
			continue
		}
		lt, code := r.buildTLS(l)
		if code != 0 {
			return code
		}
		var addrs []struct{ network, host string }
		switch {
		case l.Host == "":
			if l.SocketDomain != "ipv6" {
				addrs = append(addrs, struct{ network, host string }{"tcp4", "0.0.0.0"})
			}
			if l.SocketDomain != "ipv4" {
				addrs = append(addrs, struct{ network, host string }{"tcp6", "::"})
			}
		default:
			ips, err := net.LookupIP(l.Host)
			if err != nil {
				log.Log(logcat.ListenCreate, lookupErrorText(err))
				return exitFail
			}
			for _, ip := range ips {
				nw := "tcp6"
				if ip.To4() != nil {
					nw = "tcp4"
				}
				if (nw == "tcp4" && l.SocketDomain == "ipv6") || (nw == "tcp6" && l.SocketDomain == "ipv4") {
					continue
				}
				addrs = append(addrs, struct{ network, host string }{nw, ip.String()})
			}
		}
		for _, a := range addrs {
			spec := broker.Listener{
				Network: a.network, Addr: net.JoinHostPort(a.host, strconv.Itoa(l.Port)), Port: l.Port,
				MaxConnections: l.MaxConnections, MountPoint: l.MountPoint, MaxQoS: byte(l.MaxQoS),
				UseUsernameAsClientID: l.UseUsernameAsClientID, Security: security(r.cfg, l),
				MaxTopicAlias: uint16(l.MaxTopicAlias),
			}
			if _, err := r.listen(spec, lt); err != nil {
				text := broker.ErrorText(err)
				if a.network == "tcp6" && r.cfg.LocalOnly && strings.Contains(text, "assign requested address") {
					// No IPv6 loopback on this host: Mosquitto warns and goes on.
					log.Log(logcat.ListenWarning, text)
					continue
				}
				log.Log(logcat.ListenError, text)
				if strings.Contains(text, "ermission denied") && l.Port < 1024 {
					log.Log(logcat.PrivPort1)
					log.Log(logcat.PrivPort2)
				}
				return exitFail
			}
			r.lcfg = append(r.lcfg, *l)
		}
	}
	if len(r.lcfg) == 0 {
		log.Log(logcat.NoListeners)
		return exitFail
	}
	return 0
}

func lookupErrorText(err error) string {
	if de, ok := err.(*net.DNSError); ok && de.IsNotFound {
		return "Name or service not known"
	}
	return broker.ErrorText(err)
}

// reload re-reads the config on SIGHUP and applies what Mosquitto applies:
// logging (reopening the log file), security settings and the reloadable
// limits. A config with errors is reported and the old one kept.
func (r *runner) reload() {
	r.log.Log(logcat.Reloading)
	// Certificates are reloaded even when the config has errors, as in
	// Mosquitto, after the config's lines.
	defer r.reloadTLS()
	if r.args.ConfigFile == "" {
		r.log.Configure(loggingOptions(r.cfg))
		return
	}
	cfg, err := loadConfig(r.log, r.args.ConfigFile)
	if err != nil {
		return
	}
	cfg.ApplyArgs(r.args)
	if err := r.log.Configure(loggingOptions(cfg)); err != nil {
		r.log.Log(logcat.LogFileError, cfg.LogFile)
	}
	r.srv.SetOptions(reloadOptions(r.srv.Options(), cfg))
	reloadSecurity(r.log, r.cfg, cfg) // security.go
	for i := range r.lcfg {
		l := r.lcfg[i]
		if !cfg.LocalOnly {
			// Per-listener security follows the listener with the same port.
			for j := range cfg.Listeners {
				if cfg.Listeners[j].Port == l.Port && cfg.Listeners[j].Host == l.Host {
					l.Security = cfg.Listeners[j].Security
				}
			}
		}
		r.srv.SetSecurity(i, security(cfg, &l))
	}
	// Connected clients the new settings no longer admit are disconnected.
	r.srv.Recheck()
	r.cfg = cfg
}

// descriptorsFor is how many descriptors to reserve room for: the sum of
// the listeners' max_connections and some for listeners, files and the
// store, or fdtable.Default when any listener is unlimited.
func descriptorsFor(ls []config.Listener) int {
	n := 256
	for _, l := range ls {
		if l.MaxConnections <= 0 { // -1 (and 0, as in Mosquitto): unlimited
			return fdtable.Default
		}
		n += l.MaxConnections
	}
	return n
}

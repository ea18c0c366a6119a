// Package logging writes catalogued log lines the way Mosquitto does: a
// timestamp prefix (epoch seconds or a strftime format), the line, a newline;
// filtered by a log_type bitmask and sent to stderr, stdout, a file, syslog
// or a topic. Which form of a line is printed is chosen by the dialect.
package logging

import (
	"encoding/json"
	"fmt"
	"io"
	"log/syslog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midgemq/midge/internal/logcat"
)

// Format selects line forms: Mosquitto 2.0, Mosquitto 1.3, or JSON objects.
type Format int

const (
	Format20 Format = iota
	Format13
	FormatJSON
)

// maxLine is Mosquitto's limit on a whole line, prefix included.
const maxLine = 999

// Dest is one destination.
type Dest struct {
	Kind string // "stderr", "stdout", "file", "syslog", "topic", "none"
	Path string // file only
}

// Options configure a Logger; they can be replaced at runtime (SIGHUP).
type Options struct {
	Types              logcat.Level
	Dests              []Dest
	Timestamp          bool
	TimestampFormat    string // strftime; empty means epoch seconds
	ConnectionMessages bool
	Format             Format
	Facility           int // syslog LOCALn, -1 for daemon
}

// TopicFunc publishes a line on $SYS/broker/log/... (log_dest topic).
type TopicFunc func(level logcat.Level, line string)

// Logger is safe for concurrent use. Enabled is a lock-free check callers use
// to skip formatting on hot paths.
type Logger struct {
	types atomic.Uint32
	gated atomic.Bool // connection_messages false

	mu     sync.Mutex
	opts   Options
	sinks  []io.Writer
	files  []*os.File
	sys    *syslog.Writer
	topic  TopicFunc
	toTop  bool
	now    func() time.Time
	errOut io.Writer
}

// New returns a logger writing to stderr with Mosquitto's startup behaviour:
// only error, warning, notice and information until Configure runs.
func New() *Logger {
	l := &Logger{now: time.Now, errOut: os.Stderr}
	l.opts = Options{Types: logcat.Default, Timestamp: true, ConnectionMessages: true, Facility: -1}
	l.sinks = []io.Writer{os.Stderr}
	l.types.Store(uint32(logcat.Default))
	return l
}

// NewWriter returns a logger writing every type to w (tests).
func NewWriter(w io.Writer, o Options) *Logger {
	l := &Logger{now: time.Now, errOut: w}
	l.opts = o
	l.sinks = []io.Writer{w}
	l.types.Store(uint32(o.Types))
	l.gated.Store(!o.ConnectionMessages)
	return l
}

// SetClock replaces the clock (tests).
func (l *Logger) SetClock(now func() time.Time) { l.mu.Lock(); l.now = now; l.mu.Unlock() }

// SetTopic installs the function used by log_dest topic.
func (l *Logger) SetTopic(f TopicFunc) { l.mu.Lock(); l.topic = f; l.mu.Unlock() }

// Configure applies options, (re)opening files and syslog. It is used at
// startup and on SIGHUP, which is how log files are reopened for logrotate.
// A file that cannot be opened falls back to stderr with errors only, as
// Mosquitto does, and the error is returned for the caller to log.
func (l *Logger) Configure(o Options) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closeLocked()
	l.opts = o
	var ferr error
	var failedPath string
	toTop := false
	for _, d := range o.Dests {
		switch d.Kind {
		case "stderr":
			l.sinks = append(l.sinks, os.Stderr)
		case "stdout":
			l.sinks = append(l.sinks, os.Stdout)
		case "file":
			f, err := os.OpenFile(d.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
			if err != nil {
				ferr, failedPath = err, d.Path
				continue
			}
			l.files = append(l.files, f)
			l.sinks = append(l.sinks, f)
		case "syslog":
			prio := syslog.LOG_DAEMON
			if o.Facility >= 0 && o.Facility <= 7 {
				prio = syslog.LOG_LOCAL0 + syslog.Priority(o.Facility<<3)
			}
			if w, err := syslog.New(prio|syslog.LOG_INFO, "mosquitto"); err == nil {
				l.sys = w
			}
		case "topic":
			toTop = true
		}
	}
	l.toTop = toTop
	types := o.Types
	if ferr != nil {
		l.sinks = append(l.sinks, os.Stderr)
		types = logcat.Err
	}
	if len(l.sinks) == 0 && l.sys == nil && !toTop {
		types = 0 // log_dest none: no line is formatted
	}
	l.types.Store(uint32(types))
	l.gated.Store(!o.ConnectionMessages)
	if ferr != nil {
		return fmt.Errorf("%s: %w", failedPath, ferr)
	}
	return nil
}

func (l *Logger) closeLocked() {
	for _, f := range l.files {
		f.Close()
	}
	if l.sys != nil {
		l.sys.Close()
	}
	l.files, l.sys, l.sinks = nil, nil, nil
}

// Close closes files and syslog.
func (l *Logger) Close() { l.mu.Lock(); l.closeLocked(); l.mu.Unlock() }

// Enabled reports whether lines of this level would be printed.
func (l *Logger) Enabled(level logcat.Level) bool { return uint32(level)&l.types.Load() != 0 }

// On reports whether the entry would be printed (level and connection_messages).
func (l *Logger) On(e *logcat.Entry) bool {
	return uint32(e.Level)&l.types.Load() != 0 && !(e.Gated && l.gated.Load())
}

// Log prints a catalogued line.
func (l *Logger) Log(e *logcat.Entry, args ...any) {
	if !l.On(e) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	switch l.opts.Format {
	case FormatJSON:
		l.writeJSON(now, e, args)
		return
	case Format13:
		for _, line := range e.Lines(logcat.Dialect13, args...) {
			l.writeLine(now, e.Level, line)
		}
	default:
		l.writeLine(now, e.Level, fmt.Sprintf(e.V20, args...))
	}
}

func (l *Logger) prefix(now time.Time) string {
	if !l.opts.Timestamp {
		return ""
	}
	if l.opts.TimestampFormat == "" {
		return strconv.FormatInt(now.Unix(), 10) + ": "
	}
	s := Strftime(l.opts.TimestampFormat, now)
	if s == "" {
		s = "Time error"
	}
	return s + ": "
}

func (l *Logger) writeLine(now time.Time, level logcat.Level, msg string) {
	line := l.prefix(now) + msg
	if len(line) > maxLine {
		line = line[:maxLine]
	}
	out := line + "\n"
	for _, w := range l.sinks {
		io.WriteString(w, out)
	}
	if l.sys != nil {
		writeSyslog(l.sys, level, line)
	}
	if l.toTop && l.topic != nil && level != logcat.Debug && level != logcat.Internal {
		l.topic(level, line)
	}
}

func writeSyslog(w *syslog.Writer, level logcat.Level, line string) {
	switch level {
	case logcat.Err, logcat.Internal:
		w.Err(line)
	case logcat.Warning:
		w.Warning(line)
	case logcat.Notice, logcat.Subscribe, logcat.Unsubscribe:
		w.Notice(line)
	case logcat.Debug, logcat.Websockets:
		w.Debug(line)
	default:
		w.Info(line)
	}
}

func (l *Logger) writeJSON(now time.Time, e *logcat.Entry, args []any) {
	rec := struct {
		Time  int64  `json:"time"`
		Level string `json:"level"`
		Event string `json:"event"`
		Msg   string `json:"msg"`
		Args  []any  `json:"args,omitempty"`
	}{now.Unix(), LevelName(e.Level), e.Key, fmt.Sprintf(e.V20, args...), args}
	b, _ := json.Marshal(rec)
	b = append(b, '\n')
	for _, w := range l.sinks {
		w.Write(b)
	}
}

// LevelName is the log_type token of a level.
func LevelName(level logcat.Level) string {
	switch level {
	case logcat.Info:
		return "information"
	case logcat.Notice:
		return "notice"
	case logcat.Warning:
		return "warning"
	case logcat.Err:
		return "error"
	case logcat.Debug:
		return "debug"
	case logcat.Subscribe:
		return "subscribe"
	case logcat.Unsubscribe:
		return "unsubscribe"
	case logcat.Websockets:
		return "websockets"
	}
	return "internal"
}

// TopicSuffix is the $SYS/broker/log/ suffix for a level (log_dest topic).
func TopicSuffix(level logcat.Level) string {
	switch level {
	case logcat.Info:
		return "I"
	case logcat.Notice:
		return "N"
	case logcat.Warning:
		return "W"
	case logcat.Err:
		return "E"
	case logcat.Subscribe:
		return "M/subscribe"
	case logcat.Unsubscribe:
		return "M/unsubscribe"
	case logcat.Websockets:
		return "WS"
	}
	return ""
}

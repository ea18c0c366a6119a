package config

import (
	"bufio"
	"errors"
	"io"
	"os"
	"sort"
	"strings"
)

// parser holds the state of one parse: the config being filled and the
// position-dependent context Mosquitto keeps while reading (reference §2.3).
type parser struct {
	cfg *Config
	// cur indexes cfg.Listeners: the listener that listener options apply
	// to; -1 means the default listener (deflt), before any listener line.
	cur   int
	deflt Listener
	// securitySeen is set by the first security option, for the
	// per_listener_settings ordering rule.
	securitySeen bool
	// log_type and log_dest accumulate and replace the defaults at the end.
	logType, logDest       uint32
	logTypeSet, logDestSet bool
	notes                  []Note
}

// value is one config line split the way conf.c splits it with strtok_r.
type value struct {
	name string
	rest string // after the name and the single space that ended it
}

// token returns the next space-delimited token (strtok_r with " ").
func (v *value) token() (string, bool) {
	s := strings.TrimLeft(v.rest, " ")
	if s == "" {
		v.rest = ""
		return "", false
	}
	if i := strings.IndexByte(s, ' '); i >= 0 {
		v.rest = s[i+1:]
		return s[:i], true
	}
	v.rest = ""
	return s, true
}

// remainder returns the rest of the line untouched (strtok_r with "").
func (v *value) remainder() (string, bool) {
	s := v.rest
	v.rest = ""
	return s, s != ""
}

// listener returns the listener that listener options currently apply to.
// The pointer is valid until the next listener line.
func (p *parser) listener() *Listener {
	if p.cur < 0 {
		return &p.deflt
	}
	return &p.cfg.Listeners[p.cur]
}

// security returns the scope security options currently apply to and
// records that one was seen (for per_listener_settings).
func (p *parser) security() *Security {
	p.securitySeen = true
	if p.cfg.PerListenerSettings {
		return &p.listener().Security
	}
	return &p.cfg.Security
}

func problem(c Code, args ...any) *Problem { return &Problem{Code: c, Args: args} }

func (p *parser) note(c Code, args ...any) { p.notes = append(p.notes, Note{Code: c, Args: args}) }

// Load reads the main config file at path (with its include_dir files) and
// resolves the defaults that depend on the whole file.
func Load(path string) (*Config, error) {
	p := newParser()
	if prob := p.readFile(path, 0); prob != nil {
		return nil, &Error{Problems: []Problem{*prob}, Notes: p.notes}
	}
	return p.finish(), nil
}

// Parse reads a config from r as if it were the main file called name.
func Parse(r io.Reader, name string) (*Config, error) {
	p := newParser()
	if prob := p.readLines(r, name, 0); prob != nil {
		return nil, &Error{Problems: []Problem{*prob}, Notes: p.notes}
	}
	return p.finish(), nil
}

func newParser() *parser {
	return &parser{cfg: Default(), deflt: defaultListener(), cur: -1}
}

// readFile opens one file as conf.c's config__read_file does.
func (p *parser) readFile(path string, level int) *Problem {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return &Problem{Code: CodeIsDirectory, Args: []any{path}, File: path}
	}
	f, err := os.Open(path)
	if err != nil {
		return &Problem{Code: CodeOpenFailed, Args: []any{path}, File: path}
	}
	defer f.Close()
	return p.readLines(f, path, level)
}

// readLines parses lines; a returned Problem carries the file and line.
func (p *parser) readLines(r io.Reader, name string, level int) *Problem {
	br := bufio.NewReader(r)
	lineno := 0
	for {
		raw, err := br.ReadString('\n')
		if raw == "" && err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return &Problem{Code: CodeOpenFailed, Args: []any{name}, File: name}
		}
		lineno++
		if prob := p.line(raw, level); prob != nil {
			if prob.File == "" {
				prob.File, prob.Line = name, lineno
			} else {
				// From an included file: this line is the include_dir line.
				prob.Via = append(prob.Via, Pos{name, lineno})
			}
			return prob
		}
	}
}

// line handles one raw line (with its line ending).
func (p *parser) line(raw string, level int) *Problem {
	if raw == "" || raw[0] == '#' || raw[0] == '\n' || raw[0] == '\r' {
		return nil
	}
	s := strings.TrimRight(raw, "\r\n")
	// Only spaces separate the name: a TAB belongs to it.
	s = strings.TrimLeft(s, " ")
	if s == "" {
		return nil
	}
	v := &value{name: s}
	if i := strings.IndexByte(s, ' '); i >= 0 {
		v.name, v.rest = s[:i], s[i+1:]
	}
	if v.name == "include_dir" {
		if level > 0 {
			return nil // only honoured in the main file
		}
		return p.includeDir(v)
	}
	if notYet[v.name] {
		return problem(CodeNotSupported, v.name)
	}
	for _, pre := range notYetPrefixes {
		if strings.HasPrefix(v.name, pre) {
			return problem(CodeNotSupported, v.name)
		}
	}
	d, ok := directives[v.name]
	if !ok {
		return problem(CodeUnknownVariable, v.name)
	}
	return d(p, v)
}

// includeDir loads every *.conf in the directory, in Mosquitto's order.
func (p *parser) includeDir(v *value) *Problem {
	dir, ok := v.remainder() // not trimmed, as in conf.c
	if !ok {
		return problem(CodeEmptyValue, "include_dir")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return problem(CodeIncludeDirOpen, dir)
	}
	var files []string
	for _, e := range entries {
		n := e.Name()
		if len(n) > 5 && strings.HasSuffix(n, ".conf") {
			files = append(files, dir+"/"+n)
		}
	}
	sort.Slice(files, func(i, j int) bool { return includeLess(files[i], files[j]) })
	for _, f := range files {
		p.note(CodeLoadingFile, f)
		if prob := p.readFile(f, 1); prob != nil {
			if prob.File == "" {
				prob.File = f
			}
			return prob
		}
	}
	return nil
}

// includeLess orders names case-insensitively, upper case first when two
// names differ only in case at a position (00 01 A a B b).
func includeLess(a, b string) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		ua, ub := upper(a[i]), upper(b[i])
		if ua != ub {
			return ua < ub
		}
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) < len(b)
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// finish applies what conf.c and mosquitto.c decide after the whole file:
// the accumulated log settings, the default listener, local-only mode and
// the allow_anonymous and auto_id_prefix defaults.
func (p *parser) finish() *Config {
	c := p.cfg
	if p.logDestSet {
		c.LogDest = p.logDest
	}
	if p.logTypeSet {
		c.LogType = p.logType
	}
	probe := p.deflt
	probe.Default = false
	if probe != defaultListener() {
		l := p.deflt
		l.Default = true
		if l.Port == 0 {
			l.Port = 1883
		}
		c.Listeners = append(c.Listeners, l)
	}
	if c.LocalOnly {
		// Mosquitto replaces every listener with the local ones.
		c.Listeners = nil
		c.Security.AllowAnonymous = 1
	} else if c.PerListenerSettings {
		for i := range c.Listeners {
			if c.Listeners[i].Security.AllowAnonymous == -1 {
				c.Listeners[i].Security.AllowAnonymous = 0
			}
		}
	} else if c.Security.AllowAnonymous == -1 {
		c.Security.AllowAnonymous = 0
	}
	if c.PerListenerSettings {
		for i := range c.Listeners {
			if c.Listeners[i].Security.AutoIDPrefix == "" {
				c.Listeners[i].Security.AutoIDPrefix = "auto-"
			}
		}
	}
	if c.Security.AutoIDPrefix == "" {
		c.Security.AutoIDPrefix = "auto-"
	}
	c.Notes = p.notes
	return c
}

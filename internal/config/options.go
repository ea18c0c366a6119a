package config

import "time"

// Directives that need more than a generic value reader.

func persistence(p *parser, v *value) *Problem {
	if prob := p.boolean(v, v.name, &p.cfg.Persistence); prob != nil {
		return prob
	}
	if p.cfg.Persistence && notYet["persistence true"] {
		return problem(CodeNotSupported, v.name+" true")
	}
	return nil
}

// expiration reads persistent_client_expiration: <int>h|d|w|m|y.
func expiration(p *parser, v *value) *Problem {
	t, ok := v.token()
	if !ok {
		p.note(CodeEmptyExpiration) // logged, but the parse goes on
		return nil
	}
	var unit int64
	switch t[len(t)-1] {
	case 'h':
		unit = 3600
	case 'd':
		unit = 86400
	case 'w':
		unit = 86400 * 7
	case 'm':
		unit = 86400 * 30
	case 'y':
		unit = 86400 * 365
	default:
		return problem(CodeInvalidExpiration)
	}
	secs := int64(atoi(t[:len(t)-1])) * unit
	if secs <= 0 {
		return problem(CodeInvalidExpiration)
	}
	p.cfg.PersistentClientExpiration = time.Duration(secs) * time.Second
	return nil
}

var logDestNames = map[string]uint32{
	"stdout": DestStdout, "stderr": DestStderr, "syslog": DestSyslog,
	"topic": DestTopic, "dlt": DestDLT,
}

// logDest accumulates destinations; "none" clears them; only one file.
func logDest(p *parser, v *value) *Problem {
	t, ok := v.token()
	if !ok {
		return problem(CodeEmptyValue, v.name)
	}
	p.logDestSet = true
	switch t {
	case "none":
		p.logDest = 0
	case "file":
		p.logDest |= DestFile
		if p.cfg.LogFile != "" {
			return problem(CodeLogFileDuplicate)
		}
		path := trimLeftSpaceTab(v.rest) // the rest of the line, kept as is
		if path == "" {
			return problem(CodeLogFileEmpty)
		}
		p.cfg.LogFile = path
	default:
		bit, ok := logDestNames[t]
		if !ok {
			return problem(CodeInvalidValue, v.name, t)
		}
		p.logDest |= bit
	}
	return nil
}

func trimLeftSpaceTab(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	return s
}

var logTypeNames = map[string]uint32{
	"information": LogInfo, "notice": LogNotice, "warning": LogWarning, "error": LogErr,
	"debug": LogDebug, "subscribe": LogSubscribe, "unsubscribe": LogUnsubscribe,
	"websockets": LogWebsockets, "internal": LogInternal,
}

// logType accumulates types; "none" clears them, "all" sets every bit.
func logType(p *parser, v *value) *Problem {
	t, ok := v.token()
	if !ok {
		p.note(CodeEmptyLogType) // logged, but the parse goes on
		return nil
	}
	p.logTypeSet = true
	switch t {
	case "none":
		p.logType = 0
	case "all":
		p.logType = LogAll
	default:
		bit, ok := logTypeNames[t]
		if !ok {
			return problem(CodeInvalidValue, v.name, t)
		}
		p.logType |= bit
	}
	return nil
}

// newListener starts a listener: "listener PORT [ADDRESS|PATH]". A token
// starting with # after the port is a comment.
func newListener(p *parser, v *value) *Problem {
	p.cfg.LocalOnly = false
	t, ok := v.token()
	if !ok {
		return problem(CodeEmptyValue, v.name)
	}
	n := atoi(t)
	if n < 0 || n > 65535 {
		return problem(CodeInvalidPort, n)
	}
	host, ok := v.token()
	if ok && host[0] == '#' {
		host, ok = "", false
	}
	if n == 0 && !ok {
		return problem(CodePort0NeedsPath)
	}
	if n == 0 && notYet["listener unix socket"] {
		return problem(CodeNotSupported, "listener unix socket")
	}
	l := defaultListener()
	l.Port = n
	if n == 0 {
		l.UnixPath = host
	} else {
		l.Host = host
	}
	p.cfg.Listeners = append(p.cfg.Listeners, l)
	p.cur = len(p.cfg.Listeners) - 1
	return nil
}

// port sets the default listener's port (deprecated).
func port(p *parser, v *value) *Problem {
	p.note(CodeDeprecatedPort)
	p.cfg.LocalOnly = false
	if p.deflt.Port != 0 {
		p.note(CodePortMultiple)
	}
	n, prob := p.integer(v, v.name)
	if prob != nil {
		return prob
	}
	if n < 1 || n > 65535 {
		return problem(CodeInvalidPort, n)
	}
	p.deflt.Port = n
	return nil
}

func maxQoS(p *parser, v *value) *Problem {
	n, prob := p.integer(v, v.name)
	if prob != nil {
		return prob
	}
	if n < 0 || n > 2 {
		return problem(CodeMaxQoSRange)
	}
	p.listener().MaxQoS = n
	return nil
}

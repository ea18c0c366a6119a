package app

import (
	"sync"

	"github.com/midgemq/midge/internal/acl"
	"github.com/midgemq/midge/internal/auth"
	"github.com/midgemq/midge/internal/broker"
	"github.com/midgemq/midge/internal/config"
	"github.com/midgemq/midge/internal/logcat"
	"github.com/midgemq/midge/internal/logging"
)

// Exit statuses Mosquitto returns when its security files fail to load:
// MOSQ_ERR_UNKNOWN for a file that cannot be opened, MOSQ_ERR_INVAL for an
// ACL line it refuses (observed with Debian's mosquitto).
const (
	exitSecurityOpen  = 13
	exitSecurityParse = 3
)

// fileAuth is the built-in password-file and ACL-file check behind
// broker.Auth, for one security scope (global, or one listener with
// per_listener_settings).
type fileAuth struct {
	anonymous bool            // allow_anonymous, resolved
	passwords *auth.Passwords // nil: no password_file
	acl       *acl.List       // nil: no acl_file
}

var (
	_ broker.Auth       = (*fileAuth)(nil)
	_ broker.QuickLogin = (*fileAuth)(nil)
)

// Login applies reference §4.2: without a username, allow_anonymous
// decides; with one, the password file decides when there is one (an
// unknown user is refused even with allow_anonymous true), and
// allow_anonymous when there is none.
func (f *fileAuth) Login(c broker.Client, password []byte, hasPassword bool) bool {
	if !c.HasUser || f.passwords == nil {
		return f.anonymous
	}
	return f.passwords.Check(c.Username, password, hasPassword)
}

// QuickLogin: without a username, or without a password file, Login hashes
// nothing.
func (f *fileAuth) QuickLogin(c broker.Client) bool { return !c.HasUser || f.passwords == nil }

// Allow applies the ACL file; with none, everything is allowed (the
// broker has already made the $SYS/$share pre-check).
func (f *fileAuth) Allow(c broker.Client, topic string, a broker.Access) bool {
	if f.acl == nil {
		return true
	}
	return f.acl.Check(c.ID, c.Username, c.HasUser, topic, acl.Access(a))
}

// scopeGlobal keys the global scope in a scope map; listeners with
// per_listener_settings use their index in Config.Listeners.
const scopeGlobal = -1

// loadedAuth holds, per config, the Auth of each security scope that has a
// password or ACL file; security() looks them up when it builds a
// listener's broker.Security.
var loadedAuth = struct {
	sync.Mutex
	m map[*config.Config]map[int]broker.Auth
}{m: map[*config.Config]map[int]broker.Auth{}}

// loadSecurity reads the password and ACL files of cfg as Mosquitto's
// security init does: every password file first, then every ACL file.
// On failure the lines are logged and an exit status returned (startup
// stops; a reload keeps the previous files).
func loadSecurity(log *logging.Logger, cfg *config.Config) int {
	type scope struct {
		key int
		sec *config.Security
	}
	var scopes []scope
	if cfg.PerListenerSettings && !cfg.LocalOnly {
		for i := range cfg.Listeners {
			scopes = append(scopes, scope{i, &cfg.Listeners[i].Security})
		}
	} else {
		scopes = append(scopes, scope{scopeGlobal, &cfg.Security})
	}
	logf := auth.Logf(log.Log)
	byScope := map[int]*fileAuth{}
	for _, s := range scopes {
		if s.sec.PasswordFile == "" && s.sec.ACLFile == "" {
			continue
		}
		byScope[s.key] = &fileAuth{anonymous: s.sec.AllowAnonymous != 0}
		if s.sec.PasswordFile == "" {
			continue
		}
		p, ok := auth.Load(s.sec.PasswordFile, logf)
		if !ok {
			log.Log(logcat.PwfileOpening, s.sec.PasswordFile)
			return exitSecurityOpen
		}
		byScope[s.key].passwords = p
	}
	for _, s := range scopes {
		if s.sec.ACLFile == "" {
			continue
		}
		f := auth.OpenRestricted(s.sec.ACLFile, logf)
		if f == nil {
			log.Log(logcat.ACLOpen, s.sec.ACLFile)
			log.Log(logcat.ACLOpening, s.sec.ACLFile)
			return exitSecurityOpen
		}
		l, ok := acl.Parse(f, s.sec.ACLFile, acl.Logf(log.Log))
		f.Close()
		if !ok {
			log.Log(logcat.ACLOpening, s.sec.ACLFile)
			return exitSecurityParse
		}
		byScope[s.key].acl = l
	}
	m := map[int]broker.Auth{}
	for k, a := range byScope {
		m[k] = a
	}
	loadedAuth.Lock()
	loadedAuth.m[cfg] = m
	loadedAuth.Unlock()
	return 0
}

// forgetSecurity drops what loadSecurity kept for a config no longer used.
func forgetSecurity(cfg *config.Config) {
	loadedAuth.Lock()
	delete(loadedAuth.m, cfg)
	loadedAuth.Unlock()
}

// authFor returns the Auth for listener l of cfg (nil when its scope has
// neither a password nor an ACL file). l may be a copy of a listener of
// cfg: it is matched by port, host and socket path.
func authFor(cfg *config.Config, l *config.Listener) broker.Auth {
	loadedAuth.Lock()
	m := loadedAuth.m[cfg]
	loadedAuth.Unlock()
	if m == nil {
		return nil
	}
	if !cfg.PerListenerSettings || cfg.LocalOnly || l == nil {
		return m[scopeGlobal]
	}
	for i := range cfg.Listeners {
		c := &cfg.Listeners[i]
		if c == l || (c.Port == l.Port && c.Host == l.Host && c.UnixPath == l.UnixPath) {
			return m[i]
		}
	}
	return nil
}

// reloadSecurity loads the files of a reloaded config. If they fail, the
// previous files stay in effect (the error lines are logged), as for a
// config with errors.
func reloadSecurity(log *logging.Logger, old, cfg *config.Config) {
	if loadSecurity(log, cfg) != 0 {
		loadedAuth.Lock()
		loadedAuth.m[cfg] = loadedAuth.m[old]
		loadedAuth.Unlock()
	}
	forgetSecurity(old)
}

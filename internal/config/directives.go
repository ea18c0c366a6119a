package config

import "time"

// directive applies one option line. It returns nil or the problem found;
// the caller adds the file and line.
type directive func(p *parser, v *value) *Problem

// directives is every option midge accepts, by name (reference §2.4).
// Scope: G global, L the current listener, S security (per listener when
// per_listener_settings is true).
var directives = map[string]directive{
	// G: general
	"allow_duplicate_messages": func(p *parser, v *value) *Problem {
		p.note(CodeDeprecatedDuplicate)
		return p.boolean(v, v.name, &p.cfg.AllowDuplicateMessages)
	},
	"autosave_interval":   intOpt(func(c *Config) *int { return &c.AutosaveInterval }, 0),
	"autosave_on_changes": boolOpt(func(c *Config) *bool { return &c.AutosaveOnChanges }),
	"check_retain_source": boolOpt(func(c *Config) *bool { return &c.CheckRetainSource }),
	"clientid_prefixes": func(p *parser, v *value) *Problem {
		p.note(CodeDeprecatedPrefixes)
		return p.str(v, v.name, &p.cfg.ClientIDPrefixes)
	},
	"connection_messages": boolOpt(func(c *Config) *bool { return &c.ConnectionMessages }),
	"max_inflight_bytes":  int64Opt(func(c *Config) *int64 { return &c.MaxInflightBytes }),
	"max_inflight_messages": func(p *parser, v *value) *Problem {
		n, prob := p.integer(v, v.name)
		switch {
		case prob != nil:
			return prob
		case n < 0 || n == 65535:
			n = 0
		case n > 65535:
			return problem(CodeMaxInflightRange)
		}
		p.cfg.MaxInflightMessages = n
		return nil
	},
	"max_keepalive": rangeOpt(func(c *Config) *int { return &c.MaxKeepalive }, 0, 65535),
	"max_packet_size": func(p *parser, v *value) *Problem {
		n, prob := p.integer(v, v.name)
		if prob != nil {
			return prob
		}
		if n < 20 {
			return problem(CodeInvalidIntValue, v.name, n)
		}
		p.cfg.MaxPacketSize = uint32(n)
		return nil
	},
	"max_queued_bytes":    int64Opt(func(c *Config) *int64 { return &c.MaxQueuedBytes }),
	"max_queued_messages": intOpt(func(c *Config) *int { return &c.MaxQueuedMessages }, 0),
	"memory_limit": func(p *parser, v *value) *Problem {
		t, ok := v.token()
		if !ok {
			return problem(CodeEmptyValue, v.name)
		}
		n := atol(t)
		if n < 0 {
			return problem(CodeInvalidIntValue, v.name, n)
		}
		p.cfg.MemoryLimit = n
		return nil
	},
	"message_size_limit": func(p *parser, v *value) *Problem {
		p.note(CodeMessageSizeLimit)
		n, prob := p.integer(v, v.name)
		if prob != nil {
			return prob
		}
		u := uint32(int32(n)) // conf.c reads an int into an unsigned field
		if u > 268435455 {
			return problem(CodeInvalidIntValue, v.name, u)
		}
		p.cfg.MessageSizeLimit = u
		return nil
	},
	"persistence":                  persistence,
	"retained_persistence":         persistence,
	"persistence_file":             strOpt(func(c *Config) *string { return &c.PersistenceFile }),
	"persistence_location":         strOpt(func(c *Config) *string { return &c.PersistenceLocation }),
	"persistent_client_expiration": expiration,
	"pid_file":                     strOpt(func(c *Config) *string { return &c.PidFile }),
	"queue_qos0_messages":          boolOpt(func(c *Config) *bool { return &c.QueueQoS0Messages }),
	"retain_available":             boolOpt(func(c *Config) *bool { return &c.RetainAvailable }),
	"retry_interval": func(p *parser, v *value) *Problem {
		p.note(CodeRetryInterval)
		return nil
	},
	"set_tcp_nodelay":      boolOpt(func(c *Config) *bool { return &c.SetTCPNoDelay }),
	"sys_interval":         rangeOpt(func(c *Config) *int { return &c.SysInterval }, 0, 65535),
	"upgrade_outgoing_qos": boolOpt(func(c *Config) *bool { return &c.UpgradeOutgoingQoS }),
	"user": func(p *parser, v *value) *Problem {
		p.cfg.User = "" // user replaces rather than being a duplicate
		return p.str(v, v.name, &p.cfg.User)
	},
	"websockets_log_level": intOpt(func(c *Config) *int { return &c.WebsocketsLogLevel }, -1<<31),
	"websockets_headers_size": func(p *parser, v *value) *Problem {
		n, prob := p.integer(v, v.name)
		if prob != nil {
			return prob
		}
		if n < 0 || n > 65535 {
			return problem(CodeWSHeadersSize)
		}
		p.cfg.WebsocketsHeadersSize = n
		return nil
	},

	// G: logging
	"log_dest":             logDest,
	"log_type":             logType,
	"log_facility":         rangeOpt(func(c *Config) *int { return &c.LogFacility }, 0, 7),
	"log_timestamp":        boolOpt(func(c *Config) *bool { return &c.LogTimestamp }),
	"log_timestamp_format": strOpt(func(c *Config) *string { return &c.LogTimestampFormat }),

	// G: midge only
	"log_dialect": func(p *parser, v *value) *Problem {
		t, ok := v.token()
		switch {
		case !ok:
			return problem(CodeEmptyValue, v.name)
		case t != "2.0" && t != "1.3" && t != "json":
			return problem(CodeInvalidValue, v.name, t)
		}
		p.cfg.LogDialect = t
		return nil
	},
	"persistence_sync": func(p *parser, v *value) *Problem {
		t, ok := v.token()
		switch {
		case !ok:
			return problem(CodeEmptyValue, v.name)
		case t != "always" && t != "periodic":
			return problem(CodeInvalidValue, v.name, t)
		}
		p.cfg.PersistenceSync = t
		return nil
	},
	"max_queued_in_memory": intOpt(func(c *Config) *int { return &c.MaxQueuedInMemory }, 0),
	"connect_timeout": func(p *parser, v *value) *Problem {
		n, prob := p.integer(v, v.name)
		if prob != nil {
			return prob
		}
		if n < 0 {
			return problem(CodeInvalidIntValue, v.name, n)
		}
		p.cfg.ConnectTimeout = time.Duration(n) * time.Second
		return nil
	},
	"metrics_address": func(p *parser, v *value) *Problem {
		t, ok := v.token()
		switch {
		case !ok:
			return problem(CodeEmptyValue, v.name)
		case p.cfg.MetricsAddress != "":
			return problem(CodeDuplicateValue, v.name)
		case !validHostPort(t):
			return problem(CodeInvalidValue, v.name, t)
		}
		p.cfg.MetricsAddress = t
		return nil
	},

	// S: security
	"per_listener_settings": func(p *parser, v *value) *Problem {
		if prob := p.boolean(v, v.name, &p.cfg.PerListenerSettings); prob != nil {
			return prob
		}
		if p.securitySeen && p.cfg.PerListenerSettings {
			return problem(CodePerListenerOrder)
		}
		return nil
	},
	"allow_anonymous": func(p *parser, v *value) *Problem {
		var b bool
		if prob := p.boolean(v, v.name, &b); prob != nil {
			return prob
		}
		p.security().AllowAnonymous = boolInt(b)
		return nil
	},
	"allow_zero_length_clientid": func(p *parser, v *value) *Problem {
		return p.boolean(v, v.name, &p.security().AllowZeroLengthClientID)
	},
	"auto_id_prefix": func(p *parser, v *value) *Problem {
		return p.str(v, v.name, &p.security().AutoIDPrefix)
	},
	"password_file": func(p *parser, v *value) *Problem {
		return p.str(v, v.name, &p.security().PasswordFile)
	},
	"acl_file": func(p *parser, v *value) *Problem {
		return p.str(v, v.name, &p.security().ACLFile)
	},

	// L: listeners
	"listener": newListener,
	"port":     port,
	"bind_address": func(p *parser, v *value) *Problem {
		p.note(CodeDeprecatedBind)
		p.cfg.LocalOnly = false
		return p.str(v, "default listener bind_address", &p.deflt.Host)
	},
	"bind_interface": listenerStr(func(l *Listener) *string { return &l.BindInterface }),
	"max_connections": func(p *parser, v *value) *Problem {
		t, ok := v.token()
		if !ok {
			p.note(CodeEmptyMaxConnections) // logged, but the parse goes on
			return nil
		}
		n := atoi(t)
		if n < 0 {
			n = -1
		}
		p.listener().MaxConnections = n
		return nil
	},
	"max_qos":     maxQoS,
	"maximum_qos": maxQoS,
	"max_topic_alias": func(p *parser, v *value) *Problem {
		t, ok := v.token()
		if !ok {
			return problem(CodeEmptyValue, v.name)
		}
		n := atoi(t)
		if n < 0 || n > 65535 {
			return problem(CodeInvalidTopicAlias)
		}
		p.listener().MaxTopicAlias = n
		return nil
	},
	"mount_point": func(p *parser, v *value) *Problem {
		if len(p.cfg.Listeners) == 0 {
			return problem(CodeMountPointFirst)
		}
		l := p.listener()
		if prob := p.str(v, v.name, &l.MountPoint); prob != nil {
			return prob
		}
		if !validMountPoint(l.MountPoint) {
			return problem(CodeInvalidMountPoint, l.MountPoint)
		}
		return nil
	},
	"protocol": func(p *parser, v *value) *Problem {
		t, ok := v.token()
		switch {
		case !ok:
			return problem(CodeEmptyValue, v.name)
		case t == "websockets" && notYet["protocol websockets"]:
			return problem(CodeNotSupported, "protocol websockets")
		case t != "mqtt" && t != "websockets":
			return problem(CodeInvalidValue, v.name, t)
		}
		p.listener().Protocol = t
		return nil
	},
	"socket_domain": func(p *parser, v *value) *Problem {
		t, ok := v.token()
		switch {
		case !ok:
			return problem(CodeEmptyValue, v.name)
		case t != "ipv4" && t != "ipv6":
			return problem(CodeInvalidSocketDom, t)
		}
		p.listener().SocketDomain = t
		return nil
	},
	"use_username_as_clientid": func(p *parser, v *value) *Problem {
		return p.boolean(v, v.name, &p.listener().UseUsernameAsClientID)
	},
}

// notYet names the options midge recognises but does not implement yet.
// Each is rejected with CodeNotSupported so that no security or
// persistence setting is silently ignored. To support one, delete its entry
// and add a row to directives. Entries with a space are value-dependent and
// checked by their directive.
var notYet = map[string]bool{
	// Authentication, authorisation, plugins.
	"psk_file": true, "psk_hint": true,
	"plugin": true, "auth_plugin": true, "auth_plugin_deny_special_chars": true,
	// TLS options Go's crypto/tls cannot honour (the others are in tls.go).
	"dhparamfile": true, "tls_engine": true, "tls_keyform": true, "tls_engine_kpass_sha1": true,
	// Binding to an interface by name.
	"bind_interface": true,
	// Bridges.
	"connection": true, "address": true, "addresses": true, "topic": true,
	"bridge_attempt_unsubscribe": true, "bridge_bind_address": true, "bridge_cafile": true,
	"bridge_capath": true, "bridge_certfile": true, "bridge_keyfile": true,
	"bridge_identity": true, "bridge_psk": true, "bridge_insecure": true,
	"bridge_max_packet_size": true, "bridge_outgoing_retain": true,
	"bridge_protocol_version": true, "bridge_require_ocsp": true, "bridge_tls_version": true,
	"bridge_alpn": true, "cleansession": true, "local_cleansession": true,
	"clientid": true, "remote_clientid": true, "local_clientid": true,
	"username": true, "remote_username": true, "password": true, "remote_password": true,
	"local_username": true, "local_password": true, "keepalive_interval": true,
	"idle_timeout": true, "notifications": true, "notifications_local_only": true,
	"notification_topic": true, "restart_timeout": true, "round_robin": true,
	"start_type": true, "threshold": true, "try_private": true,
}

// notYetPrefixes are option families matched by prefix (plugin options).
var notYetPrefixes = []string{"auth_opt_", "plugin_opt_"}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func boolOpt(f func(*Config) *bool) directive {
	return func(p *parser, v *value) *Problem { return p.boolean(v, v.name, f(p.cfg)) }
}

func strOpt(f func(*Config) *string) directive {
	return func(p *parser, v *value) *Problem { return p.str(v, v.name, f(p.cfg)) }
}

func listenerStr(f func(*Listener) *string) directive {
	return func(p *parser, v *value) *Problem { return p.str(v, v.name, f(p.listener())) }
}

// intOpt reads an int; values below min are raised to min.
func intOpt(f func(*Config) *int, min int) directive {
	return func(p *parser, v *value) *Problem {
		n, prob := p.integer(v, v.name)
		if prob != nil {
			return prob
		}
		*f(p.cfg) = max(n, min)
		return nil
	}
}

// int64Opt reads an int (as conf.c does, 32 bits); negative becomes 0.
func int64Opt(f func(*Config) *int64) directive {
	return func(p *parser, v *value) *Problem {
		n, prob := p.integer(v, v.name)
		if prob != nil {
			return prob
		}
		*f(p.cfg) = int64(max(n, 0))
		return nil
	}
}

// rangeOpt reads an int that must lie in [lo, hi]; outside it is
// "Error: Invalid NAME value (N)."
func rangeOpt(f func(*Config) *int, lo, hi int) directive {
	return func(p *parser, v *value) *Problem {
		n, prob := p.integer(v, v.name)
		if prob != nil {
			return prob
		}
		if n < lo || n > hi {
			return problem(CodeInvalidIntValue, v.name, n)
		}
		*f(p.cfg) = n
		return nil
	}
}

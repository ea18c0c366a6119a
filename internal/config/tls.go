package config

// Transport options: TLS on a listener (reference §2.4 "TLS"), http_dir for
// websockets listeners. The values are kept as written; internal/app turns
// them into a tls.Config and refuses, with a clear line, what it cannot
// honour. Options still refused by notYet (dhparamfile, the engine options,
// psk_hint) never reach here.

func init() {
	for name, d := range map[string]directive{
		"cafile":                   tlsStr(func(t *TLS) *string { return &t.CAFile }),
		"capath":                   tlsStr(func(t *TLS) *string { return &t.CAPath }),
		"certfile":                 tlsStr(func(t *TLS) *string { return &t.CertFile }),
		"keyfile":                  tlsStr(func(t *TLS) *string { return &t.KeyFile }),
		"crlfile":                  tlsStr(func(t *TLS) *string { return &t.CRLFile }),
		"ciphers":                  tlsStr(func(t *TLS) *string { return &t.Ciphers }),
		"ciphers_tls1.3":           tlsStr(func(t *TLS) *string { return &t.CiphersTLS13 }),
		"tls_version":              tlsStr(func(t *TLS) *string { return &t.TLSVersion }),
		"require_certificate":      tlsBool(func(t *TLS) *string { return &t.RequireCertificate }),
		"use_identity_as_username": tlsBool(func(t *TLS) *string { return &t.UseIdentityAsUsername }),
		"use_subject_as_username":  tlsBool(func(t *TLS) *string { return &t.UseSubjectAsUsername }),
		"http_dir":                 listenerStr(func(l *Listener) *string { return &l.HTTPDir }),
	} {
		directives[name] = d
	}
}

// tlsStr is a string option of the current listener's TLS settings; like
// Mosquitto's conf__parse_string, a second value is an error.
func tlsStr(f func(*TLS) *string) directive {
	return func(p *parser, v *value) *Problem { return p.str(v, v.name, f(&p.listener().TLS)) }
}

// tlsBool is a boolean TLS option, stored as "true" or "false" (a later
// line overrides an earlier one, as for every bool in Mosquitto).
func tlsBool(f func(*TLS) *string) directive {
	return func(p *parser, v *value) *Problem {
		var b bool
		if prob := p.boolean(v, v.name, &b); prob != nil {
			return prob
		}
		*f(&p.listener().TLS) = "false"
		if b {
			*f(&p.listener().TLS) = "true"
		}
		return nil
	}
}

// Enabled reports whether the listener is meant to speak TLS: certfile or
// keyfile is set (Mosquitto needs both; app refuses one without the other).
func (t *TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// Require is require_certificate.
func (t *TLS) Require() bool { return t.RequireCertificate == "true" }

// IdentityAsUsername is use_identity_as_username.
func (t *TLS) IdentityAsUsername() bool { return t.UseIdentityAsUsername == "true" }

// SubjectAsUsername is use_subject_as_username.
func (t *TLS) SubjectAsUsername() bool { return t.UseSubjectAsUsername == "true" }

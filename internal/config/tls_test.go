package config

import "testing"

// TLS, websockets and unix-socket options land on the listener they follow.
func TestTransportOptions(t *testing.T) {
	c := mustParse(t, `listener 8883
certfile /c.pem
keyfile /k.pem
cafile /ca.pem
capath /cadir
crlfile /crl.pem
require_certificate true
use_identity_as_username true
use_subject_as_username false
tls_version tlsv1.3
ciphers ECDHE-RSA-AES128-GCM-SHA256
ciphers_tls1.3 TLS_AES_128_GCM_SHA256
listener 8080
protocol websockets
http_dir /www
listener 0 /tmp/midge.sock
`)
	if len(c.Listeners) != 3 {
		t.Fatalf("listeners = %d", len(c.Listeners))
	}
	tl := c.Listeners[0].TLS
	want := TLS{CertFile: "/c.pem", KeyFile: "/k.pem", CAFile: "/ca.pem", CAPath: "/cadir", CRLFile: "/crl.pem",
		RequireCertificate: "true", UseIdentityAsUsername: "true", UseSubjectAsUsername: "false",
		TLSVersion: "tlsv1.3", Ciphers: "ECDHE-RSA-AES128-GCM-SHA256", CiphersTLS13: "TLS_AES_128_GCM_SHA256"}
	if tl != want {
		t.Errorf("TLS = %+v", tl)
	}
	if !tl.Enabled() || !tl.Require() || !tl.IdentityAsUsername() || tl.SubjectAsUsername() {
		t.Errorf("accessors wrong for %+v", tl)
	}
	ws := c.Listeners[1]
	if ws.Protocol != "websockets" || ws.HTTPDir != "/www" || ws.TLS.Enabled() {
		t.Errorf("websockets listener = %+v", ws)
	}
	if u := c.Listeners[2]; u.Port != 0 || u.UnixPath != "/tmp/midge.sock" {
		t.Errorf("unix listener = %+v", u)
	}
}

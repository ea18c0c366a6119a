package tlsx

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"strings"
	"testing"
)

func TestCiphers(t *testing.T) {
	got, err := Ciphers("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:!aNULL:@STRENGTH")
	if err != nil || len(got) != 2 || got[0] != tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 {
		t.Fatalf("got %v, %v", got, err)
	}
	// Mosquitto's default list means Go's secure suites.
	got, err = Ciphers("DEFAULT:!aNULL:!eNULL:!LOW:!EXPORT:!SSLv2:@STRENGTH")
	if err != nil || len(got) != len(tls.CipherSuites()) {
		t.Fatalf("default: %v, %v", got, err)
	}
	got, err = Ciphers("HIGH:!ECDHE-RSA-AES128-SHA")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range got {
		if id == tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA {
			t.Fatal("excluded suite kept")
		}
	}
	for _, bad := range []string{"kRSA", "AESGCM", "+AES", "@SECLEVEL=0", "RC4-SHA", "DEFAULT:!HIGH", "!aNULL"} {
		if _, err := Ciphers(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCheckTLS13(t *testing.T) {
	if err := CheckTLS13("TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"); err != nil {
		t.Fatal(err)
	}
	if err := CheckTLS13("TLS_AES_256_GCM_SHA384"); err == nil {
		t.Fatal("a subset Go cannot enforce was accepted")
	}
}

func TestSubjectAndIdentity(t *testing.T) {
	name := pkix.Name{Country: []string{"GB"}, Organization: []string{"Acme, Inc"}, CommonName: "#bob ",
		ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, Value: "bob@example.com"}}}
	raw, err := asn1.Marshal(name.ToRDNSequence())
	if err != nil {
		t.Fatal(err)
	}
	c := &x509.Certificate{RawSubject: raw, Subject: name}
	c.Subject.Names = []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "#bob "}}
	if got, want := Subject(c), `emailAddress=bob@example.com,CN=\#bob\ ,O=Acme\, Inc,C=GB`; got != want {
		t.Errorf("Subject = %q, want %q", got, want)
	}
	if id, ok := Identity(c); !ok || id != "#bob " {
		t.Errorf("Identity = %q %v", id, ok)
	}
	if _, ok := Identity(&x509.Certificate{}); ok {
		t.Error("identity without a CN")
	}
}

func TestOpenSSLText(t *testing.T) {
	if s, _ := OpenSSLText(tls.AlertError(48)); s != "error:0A000418:SSL routines::tlsv1 alert unknown ca" {
		t.Errorf("unknown ca: %q", s)
	}
	if s, _ := OpenSSLText(tls.RecordHeaderError{Msg: "x"}); s != "error:0A00010B:SSL routines::wrong version number" {
		t.Errorf("record header: %q", s)
	}
	for hdr, want := range map[string]string{
		"GET /": "http request", "POST ": "http request", "HEAD ": "http request", "PUT /": "http request",
		"CONNE": "https proxy request", "\x10\x0c\x00\x04M": "wrong version number",
	} {
		rh := tls.RecordHeaderError{Msg: "x"}
		copy(rh.RecordHeader[:], hdr)
		if s, _ := OpenSSLText(rh); !strings.HasSuffix(s, "::"+want) {
			t.Errorf("%q: %q", hdr, s)
		}
	}
}

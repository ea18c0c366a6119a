package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	serial int64
}

func newCA(t testing.TB, cn string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn, Organization: []string{"Midge Test"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCA{cert: c, key: key, serial: 1}
}

// leaf is an issued certificate and its key, as PEM.
type leaf struct {
	cert            *x509.Certificate
	certPEM, keyPEM []byte
}

// issue makes a server (server true: SANs 127.0.0.1, ::1 and localhost) or
// client certificate valid from notBefore to notAfter.
func (ca *testCA) issue(t testing.TB, subject pkix.Name, server bool, notBefore, notAfter time.Time) *leaf {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial), Subject: subject, NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return &leaf{cert: c, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})}
}

func (ca *testCA) client(t testing.TB, cn string) *leaf {
	return ca.issue(t, pkix.Name{CommonName: cn, Organization: []string{"Midge Test"}}, false,
		time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
}

func (ca *testCA) server(t testing.TB, cn string) *leaf {
	return ca.issue(t, pkix.Name{CommonName: cn}, true, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
}

// crl is a PEM CRL revoking the given certificates.
func (ca *testCA) crl(t testing.TB, revoked ...*leaf) []byte {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, l := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: l.cert.SerialNumber, RevocationTime: time.Now().Add(-time.Minute)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(24 * time.Hour),
		RevokedCertificateEntries: entries,
	}, ca.cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}

func (ca *testCA) pem() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
}

// write stores data in dir/name and returns the path.
func write(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// pki is a full set of test certificates written to a directory.
type pki struct {
	dir                             string
	ca, otherCA                     *testCA
	caFile, crlFile                 string
	serverCert, serverKey           string
	good, expired, wrongCA, revoked *leaf
	goodCert, goodKey               string
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir(), ca: newCA(t, "Midge Test CA"), otherCA: newCA(t, "Other CA")}
	srv := p.ca.server(t, "localhost")
	p.serverCert = write(t, p.dir, "server.crt", srv.certPEM)
	p.serverKey = write(t, p.dir, "server.key", srv.keyPEM)
	p.caFile = write(t, p.dir, "ca.crt", p.ca.pem())
	p.good = p.ca.client(t, "alice")
	p.goodCert = write(t, p.dir, "alice.crt", p.good.certPEM)
	p.goodKey = write(t, p.dir, "alice.key", p.good.keyPEM)
	p.expired = p.ca.issue(t, pkix.Name{CommonName: "old"}, false, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	p.wrongCA = p.otherCA.client(t, "mallory")
	p.revoked = p.ca.client(t, "revoked")
	p.crlFile = write(t, p.dir, "ca.crl", p.ca.crl(t, p.revoked))
	return p
}

package tlsx

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"sync/atomic"
	"time"
)

// Holder serves a listener's certificate through tls.Config.GetCertificate,
// so Reload swaps it for new handshakes while established connections keep
// theirs.
type Holder struct {
	CertFile, KeyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// LoadError says which file failed: "cert", "key" or "mismatch".
type LoadError struct {
	What string
	Err  error
}

func (e *LoadError) Error() string { return e.What + ": " + e.Err.Error() }
func (e *LoadError) Unwrap() error { return e.Err }

// NewHolder loads the pair.
func NewHolder(certFile, keyFile string) (*Holder, error) {
	h := &Holder{CertFile: certFile, KeyFile: keyFile}
	if err := h.Reload(); err != nil {
		return nil, err
	}
	return h, nil
}

// Reload re-reads the certificate chain and key; on error the old pair stays.
func (h *Holder) Reload() error {
	certPEM, err := os.ReadFile(h.CertFile)
	if err != nil {
		return &LoadError{"cert", err}
	}
	if b, _ := pem.Decode(certPEM); b == nil || b.Type != "CERTIFICATE" {
		return &LoadError{"cert", errors.New("no PEM certificate")}
	}
	keyPEM, err := os.ReadFile(h.KeyFile)
	if err != nil {
		return &LoadError{"key", err}
	}
	if b, _ := pem.Decode(keyPEM); b == nil {
		return &LoadError{"key", errors.New("no PEM key")}
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return &LoadError{"mismatch", err}
	}
	h.cur.Store(&pair)
	return nil
}

// GetCertificate is for tls.Config.
func (h *Holder) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return h.cur.Load(), nil
}

// Current returns the pair in use.
func (h *Holder) Current() *tls.Certificate { return h.cur.Load() }

// hashName is OpenSSL's capath naming: subject hash, dot, index (c_rehash).
var hashName = regexp.MustCompile(`^[0-9a-f]{8}\.[0-9]+$`)

// CAPool loads cafile and the hash-named files of capath (as OpenSSL looks
// certificates up there only by those names). Either may be empty. The
// returned flags say which one failed.
func CAPool(cafile, capath string) (pool *x509.CertPool, fileErr, pathErr bool) {
	pool = x509.NewCertPool()
	if cafile != "" {
		b, err := os.ReadFile(cafile)
		if err != nil || !pool.AppendCertsFromPEM(b) {
			fileErr = true
		}
	}
	if capath != "" {
		ents, err := os.ReadDir(capath)
		if err != nil {
			pathErr = true
		}
		for _, e := range ents {
			if !hashName.MatchString(e.Name()) {
				continue
			}
			if b, err := os.ReadFile(filepath.Join(capath, e.Name())); err == nil {
				pool.AppendCertsFromPEM(b)
			}
		}
	}
	return pool, fileErr, pathErr
}

// CRL is a loaded crlfile (PEM or DER, one or more lists).
type CRL struct {
	lists []*x509.RevocationList
}

// LoadCRL reads a CRL file.
func LoadCRL(path string) (*CRL, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c := &CRL{}
	rest := b
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "X509 CRL" {
			continue
		}
		l, err := x509.ParseRevocationList(blk.Bytes)
		if err != nil {
			return nil, err
		}
		c.lists = append(c.lists, l)
	}
	if len(c.lists) == 0 {
		l, err := x509.ParseRevocationList(b)
		if err != nil {
			return nil, err
		}
		c.lists = append(c.lists, l)
	}
	return c, nil
}

// Errors of the CRL check, with OpenSSL's verify texts.
var (
	ErrRevoked    = errors.New("certificate revoked")
	ErrNoCRL      = errors.New("unable to get certificate CRL")
	ErrCRLExpired = errors.New("CRL has expired")
)

// Check applies the CRL to the leaf of a verified chain, as OpenSSL's
// X509_V_FLAG_CRL_CHECK (what Mosquitto sets) does: the leaf's issuer must
// have a valid, current CRL, and the leaf must not be on it.
func (c *CRL) Check(chain []*x509.Certificate, now time.Time) error {
	if len(chain) < 2 {
		return ErrNoCRL
	}
	leaf, issuer := chain[0], chain[1]
	found := false
	for _, l := range c.lists {
		if l.CheckSignatureFrom(issuer) != nil {
			continue
		}
		found = true
		if !l.NextUpdate.IsZero() && now.After(l.NextUpdate) {
			return ErrCRLExpired
		}
		for _, r := range l.RevokedCertificateEntries {
			if r.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
				return ErrRevoked
			}
		}
	}
	if !found {
		return ErrNoCRL
	}
	return nil
}

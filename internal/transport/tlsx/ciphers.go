// Package tlsx turns Mosquitto's TLS options (OpenSSL vocabulary) into Go
// crypto/tls settings: cipher lists, tls_version, CA and CRL files,
// certificate subjects as OpenSSL prints them, and a certificate holder that
// reloads on SIGHUP. Whatever cannot be honoured is an error that says why;
// nothing is dropped silently.
package tlsx

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// openSSLNames maps OpenSSL's TLS 1.2-and-earlier cipher names to Go's
// suites. Only suites Go implements are listed.
var openSSLNames = map[string]uint16{
	"ECDHE-ECDSA-AES128-GCM-SHA256": tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-RSA-AES128-GCM-SHA256":   tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-ECDSA-AES256-GCM-SHA384": tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-RSA-AES256-GCM-SHA384":   tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-ECDSA-CHACHA20-POLY1305": tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-RSA-CHACHA20-POLY1305":   tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-ECDSA-AES128-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	"ECDHE-RSA-AES128-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	"ECDHE-ECDSA-AES256-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	"ECDHE-RSA-AES256-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	"ECDHE-ECDSA-AES128-SHA256":     tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
	"ECDHE-RSA-AES128-SHA256":       tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
	"AES128-GCM-SHA256":             tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	"AES256-GCM-SHA384":             tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
	"AES128-SHA":                    tls.TLS_RSA_WITH_AES_128_CBC_SHA,
	"AES256-SHA":                    tls.TLS_RSA_WITH_AES_256_CBC_SHA,
	"AES128-SHA256":                 tls.TLS_RSA_WITH_AES_128_CBC_SHA256,
	"DES-CBC3-SHA":                  tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA,
	"ECDHE-RSA-DES-CBC3-SHA":        tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA,
}

// neverOffered are OpenSSL cipher classes Go never negotiates; excluding
// them ("!aNULL") changes nothing and is accepted.
var neverOffered = map[string]bool{
	"aNULL": true, "eNULL": true, "NULL": true, "LOW": true, "EXPORT": true, "EXP": true,
	"SSLv2": true, "MD5": true, "RC4": true, "DES": true, "PSK": true, "SRP": true,
	"DSS": true, "aDSS": true, "ADH": true, "AECDH": true, "DH": true, "DHE": true,
	"EDH": true, "kDHE": true, "kEDH": true, "CAMELLIA": true, "SEED": true, "IDEA": true,
	"ARIA": true, "CCM": true, "aPSK": true, "kPSK": true, "ECDHEPSK": true, "DHEPSK": true,
	"RSAPSK": true, "kSRP": true, "aSRP": true, "aGOST": true, "kGOST": true,
}

// Go's secure default suites, the meaning midge gives DEFAULT and HIGH.
func defaultSuites() []uint16 {
	var out []uint16
	for _, s := range tls.CipherSuites() {
		out = append(out, s.ID)
	}
	return out
}

func suiteByName(name string) (uint16, bool) {
	if id, ok := openSSLNames[name]; ok {
		return id, true
	}
	// Go's (IANA) names are accepted too.
	for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		if s.Name == name {
			return s.ID, true
		}
	}
	return 0, false
}

// CipherError says which element of a cipher list cannot be honoured.
type CipherError struct {
	Element string
	Reason  string
}

func (e *CipherError) Error() string { return fmt.Sprintf("cipher %q: %s", e.Element, e.Reason) }

// Ciphers turns an OpenSSL cipher list (the ciphers option: TLS 1.2 and
// earlier) into Go suite ids. Supported: cipher names (OpenSSL's or Go's),
// DEFAULT and HIGH (Go's secure set), !NAME and -NAME to remove a suite,
// exclusions of classes Go never offers (!aNULL, !eNULL, !LOW, !EXPORT, ...),
// and @STRENGTH (Go orders suites by its own preference in any case).
// Anything else is an error: midge does not guess.
func Ciphers(list string) ([]uint16, error) {
	var out []uint16
	has := map[uint16]bool{}
	add := func(id uint16) {
		if !has[id] {
			has[id] = true
			out = append(out, id)
		}
	}
	removed := map[uint16]bool{}
	for _, el := range strings.FieldsFunc(list, func(r rune) bool { return r == ':' || r == ',' || r == ' ' }) {
		switch {
		case el == "DEFAULT" || el == "HIGH":
			for _, id := range defaultSuites() {
				add(id)
			}
		case el == "@STRENGTH":
		case el[0] == '!' || el[0] == '-':
			name := el[1:]
			if id, ok := suiteByName(name); ok {
				removed[id] = true
				continue
			}
			if !neverOffered[name] {
				return nil, &CipherError{el, "midge cannot tell which suites this excludes; name the suites to use instead"}
			}
		case el[0] == '+':
			return nil, &CipherError{el, "reordering is not supported: Go orders the suites it negotiates itself"}
		case el[0] == '@':
			return nil, &CipherError{el, "OpenSSL security levels have no equivalent in Go's TLS"}
		default:
			id, ok := suiteByName(el)
			if !ok {
				return nil, &CipherError{el, "no such suite in Go's TLS (TLS 1.2 suites Go implements: ECDHE with AES-GCM, CHACHA20-POLY1305 or AES-CBC, and RSA key exchange with AES)"}
			}
			add(id)
		}
	}
	var kept []uint16
	for _, id := range out {
		if !removed[id] {
			kept = append(kept, id)
		}
	}
	if len(kept) == 0 {
		return nil, &CipherError{list, "no suite left"}
	}
	return kept, nil
}

// tls13Names are the TLS 1.3 suites Go implements. Go always enables all
// three and offers no way to choose among them.
var tls13Names = []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}

// CheckTLS13 validates ciphers_tls1.3: it is honoured only when it names
// every TLS 1.3 suite Go uses, since Go cannot disable any of them. Suites Go
// lacks (the CCM ones) may be listed too, as OpenSSL accepts a list of which
// some are unavailable.
func CheckTLS13(list string) error {
	seen := map[string]bool{}
	for _, el := range strings.Split(list, ":") {
		switch el {
		case "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256":
			seen[el] = true
		case "TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256":
		default:
			return &CipherError{el, "not a TLS 1.3 suite"}
		}
	}
	for _, n := range tls13Names {
		if !seen[n] {
			return &CipherError{n, "Go's TLS always enables this TLS 1.3 suite and cannot leave it out; list all of " + strings.Join(tls13Names, ":") + ", or set tls_version tlsv1.2 and use ciphers"}
		}
	}
	return nil
}

// MinVersion maps tls_version (a minimum, as in Mosquitto 2.0). "" is TLS 1.2.
func MinVersion(v string) (uint16, bool) {
	switch v {
	case "":
		return tls.VersionTLS12, true
	case "tlsv1.3":
		return tls.VersionTLS13, true
	case "tlsv1.2":
		return tls.VersionTLS12, true
	case "tlsv1.1":
		return tls.VersionTLS11, true
	}
	return 0, false
}

package tlsx

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"strings"
)

// shortNames are OpenSSL's short names for the attributes seen in subjects.
var shortNames = map[string]string{
	"2.5.4.3": "CN", "2.5.4.4": "SN", "2.5.4.5": "serialNumber", "2.5.4.6": "C", "2.5.4.7": "L",
	"2.5.4.8": "ST", "2.5.4.9": "street", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.12": "title",
	"2.5.4.13": "description", "2.5.4.17": "postalCode", "2.5.4.41": "name", "2.5.4.42": "GN",
	"2.5.4.43": "initials", "2.5.4.44": "generationQualifier", "2.5.4.46": "dnQualifier",
	"2.5.4.65": "pseudonym", "2.5.4.97": "organizationIdentifier",
	"1.2.840.113549.1.9.1":       "emailAddress",
	"0.9.2342.19200300.100.1.1":  "UID",
	"0.9.2342.19200300.100.1.25": "DC",
}

// Identity is use_identity_as_username: the first commonName of the
// certificate's subject, or false when there is none (or it holds a NUL, which
// Mosquitto refuses too).
func Identity(c *x509.Certificate) (string, bool) {
	for _, a := range c.Subject.Names {
		if a.Type.String() == "2.5.4.3" {
			s, ok := a.Value.(string)
			if !ok || strings.IndexByte(s, 0) >= 0 {
				return "", false
			}
			return s, true
		}
	}
	return "", false
}

// Subject is use_subject_as_username: the subject as OpenSSL prints it with
// XN_FLAG_RFC2253 (last RDN first, "," between RDNs, "+" inside one, short
// names, RFC 2253 escapes, bytes above 0x7F as \XX).
func Subject(c *x509.Certificate) string {
	var rdns pkixRDNs
	if _, err := asn1.Unmarshal(c.RawSubject, &rdns); err != nil {
		return c.Subject.String()
	}
	var sb strings.Builder
	for i := len(rdns) - 1; i >= 0; i-- {
		if i != len(rdns)-1 {
			sb.WriteByte(',')
		}
		for j, atv := range rdns[i] {
			if j > 0 {
				sb.WriteByte('+')
			}
			oid := atv.Type.String()
			name, known := shortNames[oid]
			if !known {
				name = oid
			}
			sb.WriteString(name)
			sb.WriteByte('=')
			if s, ok := stringValue(atv.Value); ok && known {
				sb.WriteString(escape2253(s))
			} else {
				sb.WriteString("#" + strings.ToUpper(hex.EncodeToString(atv.Value.FullBytes)))
			}
		}
	}
	return sb.String()
}

type pkixATV struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// rdnSET is one RDN; encoding/asn1 reads a slice type named ...SET as a SET OF.
type rdnSET []pkixATV

type pkixRDNs []rdnSET

// stringValue decodes the ASN.1 string types OpenSSL prints as text.
func stringValue(v asn1.RawValue) (string, bool) {
	if v.Class != asn1.ClassUniversal {
		return "", false
	}
	switch v.Tag {
	case asn1.TagUTF8String, asn1.TagPrintableString, asn1.TagIA5String, asn1.TagT61String,
		asn1.TagNumericString, 26 /* VisibleString */ :
		return string(v.Bytes), true
	case asn1.TagBMPString:
		if len(v.Bytes)%2 != 0 {
			return "", false
		}
		var r []rune
		for i := 0; i < len(v.Bytes); i += 2 {
			r = append(r, rune(v.Bytes[i])<<8|rune(v.Bytes[i+1]))
		}
		return string(r), true
	}
	return "", false
}

func escape2253(s string) string {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b >= 0x80 || b < 0x20 || b == 0x7f:
			fmt.Fprintf(&sb, "\\%02X", b)
		case strings.IndexByte(`,+"\<>;`, b) >= 0,
			i == 0 && (b == '#' || b == ' '),
			i == len(s)-1 && b == ' ':
			sb.WriteByte('\\')
			sb.WriteByte(b)
		default:
			sb.WriteByte(b)
		}
	}
	return sb.String()
}

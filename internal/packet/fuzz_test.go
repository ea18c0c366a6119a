package packet

import (
	"reflect"
	"testing"
)

var fuzzVersions = [...]byte{V31, V311, V5}

// FuzzDecode feeds arbitrary packets to the decoders. They must never panic,
// and a packet that decodes must survive encode -> decode unchanged.
func FuzzDecode(f *testing.F) {
	for _, tc := range fixtures {
		f.Add(tc.raw, tc.version)
	}
	for _, tc := range badCases {
		f.Add(tc.raw, tc.version)
	}
	f.Fuzz(func(t *testing.T, data []byte, vsel byte) {
		version := fuzzVersions[int(vsel)%len(fuzzVersions)]
		first, rem, n, err := ParseFixedHeader(data)
		if err != nil || n == 0 || rem > len(data)-n {
			return
		}
		body := data[n : n+rem]
		pk, err := decodeAny(first, body, version)
		if Type(first>>4) == PUBLISH {
			// DecodePublish into a Publish left from another message must
			// give what Decode gives, every field overwritten.
			reused := Publish{Dup: true, QoS: 1, Retain: true, Topic: "stale", PacketID: 9, Payload: []byte("stale"),
				Props: Properties{HasTopicAlias: true, TopicAlias: 3, User: []UserProperty{{Key: "k", Value: "v"}}}}
			err2 := DecodePublish(&reused, first, body, version)
			if (err == nil) != (err2 == nil) {
				t.Fatalf("Decode error %v, DecodePublish error %v", err, err2)
			}
			if err == nil && !reflect.DeepEqual(*pk.(*Publish), reused) {
				t.Fatalf("DecodePublish into a used Publish: %+v, Decode: %+v", reused, *pk.(*Publish))
			}
		}
		if Type(first>>4) == CONNECT {
			// The same for DecodeConnectInto (the broker reuses its
			// Connects), on error too: the partial Connect is logged from.
			want, werr := DecodeConnect(first&0x0F, body)
			reused := Connect{ProtocolName: "stale", CleanStart: true, KeepAlive: 7, ClientID: "stale",
				WillFlag: true, WillTopic: "stale", WillPayload: []byte("stale"), UsernameFlag: true, Username: "stale",
				PasswordFlag: true, Password: []byte("stale"), Props: Properties{HasSessionExpiry: true, SessionExpiry: 9},
				WillProps: Properties{User: []UserProperty{{Key: "k", Value: "v"}}}}
			got, gerr := DecodeConnectInto(&reused, first&0x0F, body)
			if got != &reused || (werr == nil) != (gerr == nil) || !reflect.DeepEqual(*want, reused) {
				t.Fatalf("DecodeConnectInto a used Connect: %+v (%v), DecodeConnect: %+v (%v)", reused, gerr, *want, werr)
			}
		}
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		if c, ok := pk.(*Connect); ok {
			version = c.Version
		}
		enc := encodeAny(version, pk)
		first2, rem2, n2, err := ParseFixedHeader(enc)
		if err != nil || n2 == 0 || rem2 != len(enc)-n2 {
			t.Fatalf("bad framing of re-encoding % X", enc)
		}
		pk2, err := decodeAny(first2, enc[n2:], version)
		if err != nil {
			t.Fatalf("re-decode of % X (from % X): %v", enc, data, err)
		}
		if !reflect.DeepEqual(pk, pk2) {
			t.Fatalf("round trip of % X\nfirst  %+v\nsecond %+v", data, pk, pk2)
		}
	})
}

func decodeAny(first byte, body []byte, version byte) (any, error) {
	if Type(first>>4) == CONNECT {
		c, err := DecodeConnect(first&0x0F, body)
		if c == nil {
			panic("nil Connect")
		}
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	return Decode(first, body, version)
}

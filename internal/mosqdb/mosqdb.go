// Package mosqdb reads the persistence file of Eclipse Mosquitto 2.0
// (mosquitto.db, DB format version 6; reference §5.2), so that a user
// switching to midge keeps retained messages, persistent sessions, their
// subscriptions and their queued and in-flight messages. It only reads: midge
// keeps its own state in internal/store.
//
// The file is a 15-byte magic, a 4-byte (unused) CRC and a big-endian
// version, then chunks: uint32 type, uint32 length, body. Each body starts
// with a C struct with natural alignment; u16/u32 fields are big-endian and
// u64/i64 fields are in host order (little-endian on the machines Debian's
// mosquitto runs on), followed by the variable-length strings.
package mosqdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"github.com/midgemq/midge/internal/session"
	"github.com/midgemq/midge/internal/store"
	"github.com/midgemq/midge/internal/topic"
)

var magic = []byte("\x00\xb5\x00mosquitto db")

// Version is the DB format version read.
const Version = 6

const (
	chunkCfg       = 1
	chunkMsgStore  = 2
	chunkClientMsg = 3
	chunkRetain    = 4
	chunkSub       = 5
	chunkClient    = 6
)

// Mosquitto's message states (mosquitto_msg_state).
const (
	msPublishQoS1    = 2
	msWaitPuback     = 3
	msPublishQoS2    = 4
	msWaitPubrec     = 5
	msResendPubrel   = 6
	msWaitPubrel     = 7
	msWaitPubcomp    = 9
	msSendPubrec     = 10
	msQueued         = 11
	directionOut     = 1
	sessionNeverEnds = 0xFFFFFFFF
)

// Client is one persistent session in the file.
type Client struct {
	ID         string
	Username   string
	Expiry     uint32 // session expiry interval; 0xFFFFFFFF = never
	ExpiryTime int64  // absolute expiry time, 0 = none
	Subs       map[string]topic.Options
	Inflight   []*session.Outbound // outbound, with their packet ids
	Queued     []*session.Outbound
	Inbound    map[uint16]*session.Message // QoS 2 awaiting PUBREL
}

// DB is what a mosquitto.db holds.
type DB struct {
	Retained []*session.Message
	Clients  []*Client
	// Warnings are Mosquitto's warnings for odd content, by catalog key:
	// "persist.unsupported_chunk" (with the chunk type),
	// "persist.client_msg_no_client".
	Warnings []Warning
}

// Warning is one problem that did not stop the read.
type Warning struct {
	Key string
	Arg int
}

// Errors that stop the read, as Mosquitto reports them.
var (
	ErrEmpty        = errors.New("persistence file is empty")
	ErrUnrecognised = errors.New("unrecognised file format")
	ErrCorrupt      = errors.New("corrupt persistent database")
)

// VersionError is an unsupported DB format version.
type VersionError struct{ Got int }

func (e *VersionError) Error() string {
	return fmt.Sprintf("unsupported persistent database format version %d (need version %d)", e.Got, Version)
}

// IsMosquittoDB reports whether the file at path starts with Mosquitto's magic.
func IsMosquittoDB(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, len(magic))
	n, _ := f.Read(b)
	return n == len(magic) && bytes.Equal(b, magic)
}

// ReadFile reads a mosquitto.db.
func ReadFile(path string) (*DB, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(b)
}

type msgStore struct {
	m *session.Message
}

// Parse decodes a mosquitto.db image.
func Parse(b []byte) (*DB, error) {
	if len(b) == 0 {
		return nil, ErrEmpty
	}
	if len(b) < len(magic)+8 || !bytes.Equal(b[:len(magic)], magic) {
		return nil, ErrUnrecognised
	}
	p := len(magic) + 4
	if v := int(binary.BigEndian.Uint32(b[p:])); v != Version {
		return nil, &VersionError{Got: v}
	}
	p += 4
	db := &DB{}
	msgs := map[uint64]*session.Message{}
	clients := map[string]*Client{}
	be16 := func(c []byte, o int) int { return int(binary.BigEndian.Uint16(c[o:])) }
	str := func(c []byte, off *int, n int) (string, bool) {
		if *off+n > len(c) {
			return "", false
		}
		s := string(c[*off : *off+n])
		*off += n
		return s, true
	}
	for p < len(b) {
		if p+8 > len(b) {
			return nil, ErrCorrupt
		}
		typ := binary.BigEndian.Uint32(b[p:])
		n := int(binary.BigEndian.Uint32(b[p+4:]))
		p += 8
		if n < 0 || p+n > len(b) {
			return nil, ErrCorrupt
		}
		c := b[p : p+n]
		p += n
		switch typ {
		case chunkCfg:
			if len(c) < 10 || c[9] != 8 {
				return nil, ErrCorrupt // dbid size must be 8
			}
		case chunkMsgStore:
			if len(c) < 32 {
				return nil, ErrCorrupt
			}
			id := binary.LittleEndian.Uint64(c)
			m := &session.Message{ExpiresAt: int64(binary.LittleEndian.Uint64(c[8:]))}
			plen := int(binary.BigEndian.Uint32(c[16:]))
			srcLen, userLen, topicLen := be16(c, 22), be16(c, 24), be16(c, 26)
			m.QoS, m.Retain = c[30], c[31] != 0
			off := 32
			var ok1, ok2, ok3 bool
			m.Origin, ok1 = str(c, &off, srcLen)
			_, ok2 = str(c, &off, userLen)
			m.Topic, ok3 = str(c, &off, topicLen)
			if !ok1 || !ok2 || !ok3 || off+plen > len(c) {
				return nil, ErrCorrupt
			}
			m.Payload = append([]byte{}, c[off:off+plen]...)
			off += plen
			pr, ok := readProps(c, &off) // v5 properties (props.go)
			if !ok {
				return nil, ErrCorrupt
			}
			m.Props = pr.forwarded()
			msgs[id] = m
		case chunkClient:
			if len(c) < 24 {
				return nil, ErrCorrupt
			}
			cl := &Client{ExpiryTime: int64(binary.LittleEndian.Uint64(c)), Expiry: binary.BigEndian.Uint32(c[8:]),
				Subs: map[string]topic.Options{}, Inbound: map[uint16]*session.Message{}}
			idLen, userLen := be16(c, 14), be16(c, 18)
			off := 24
			var ok1, ok2 bool
			cl.ID, ok1 = str(c, &off, idLen)
			cl.Username, ok2 = str(c, &off, userLen)
			if !ok1 || !ok2 {
				return nil, ErrCorrupt
			}
			if cl.ID == "" {
				continue
			}
			clients[cl.ID] = cl
			db.Clients = append(db.Clients, cl)
		case chunkClientMsg:
			if len(c) < 16 {
				return nil, ErrCorrupt
			}
			sid := binary.LittleEndian.Uint64(c)
			mid := uint16(be16(c, 8))
			idLen := be16(c, 10)
			qos, state, rd, dir := c[12], c[13], c[14], c[15]
			off := 16
			id, ok := str(c, &off, idLen)
			if !ok {
				return nil, ErrCorrupt
			}
			pr, ok := readProps(c, &off) // the delivery's subscription identifiers (props.go)
			if !ok {
				return nil, ErrCorrupt
			}
			cl, m := clients[id], msgs[sid]
			if cl == nil {
				db.Warnings = append(db.Warnings, Warning{Key: "persist.client_msg_no_client"})
				continue
			}
			if m == nil {
				return nil, ErrCorrupt
			}
			if dir != directionOut {
				if qos == 2 && (state == msWaitPubrel || state == msSendPubrec) {
					cl.Inbound[mid] = m
				}
				continue // inbound QoS 1 is re-sent by the client
			}
			o := &session.Outbound{Msg: m, QoS: qos, Retain: rd&0x10 != 0, Dup: rd&0x01 != 0, SubIDs: pr.subIDs}
			switch state {
			case msQueued:
				cl.Queued = append(cl.Queued, o)
			case msWaitPuback, msPublishQoS1:
				o.Mid, o.State = mid, session.WaitPuback
				cl.Inflight = append(cl.Inflight, o)
			case msWaitPubrec, msPublishQoS2:
				o.Mid, o.State = mid, session.WaitPubrec
				cl.Inflight = append(cl.Inflight, o)
			case msWaitPubcomp, msResendPubrel:
				o.Mid, o.State = mid, session.WaitPubcomp
				cl.Inflight = append(cl.Inflight, o)
			default:
				cl.Queued = append(cl.Queued, o)
			}
		case chunkSub:
			if len(c) < 12 {
				return nil, ErrCorrupt
			}
			ident := binary.BigEndian.Uint32(c)
			idLen, topicLen := be16(c, 4), be16(c, 6)
			qos, opts := c[8], c[9]
			off := 12
			id, ok1 := str(c, &off, idLen)
			filter, ok2 := str(c, &off, topicLen)
			if !ok1 || !ok2 {
				return nil, ErrCorrupt
			}
			cl := clients[id]
			if cl == nil || filter == "" {
				continue
			}
			cl.Subs[filter] = topic.Options{QoS: qos, NoLocal: opts&0x04 != 0, RetainAsPublished: opts&0x08 != 0, ID: ident}
		case chunkRetain:
			if len(c) < 8 {
				return nil, ErrCorrupt
			}
			if m := msgs[binary.LittleEndian.Uint64(c)]; m != nil {
				db.Retained = append(db.Retained, m)
			}
		default:
			db.Warnings = append(db.Warnings, Warning{Key: "persist.unsupported_chunk", Arg: int(typ)})
		}
	}
	return db, nil
}

// Counts returns retained messages, sessions, subscriptions and queued
// plus in-flight outbound messages.
func (db *DB) Counts() (retained, sessions, subs, queued int) {
	retained, sessions = len(db.Retained), len(db.Clients)
	for _, c := range db.Clients {
		subs += len(c.Subs)
		queued += len(c.Queued) + len(c.Inflight)
	}
	return
}

// Ops returns the store writes that hold db in midge's key layout (see
// internal/store). seq is the last outbound record number used; the next
// ones follow it.
func (db *DB) Ops(now int64, seq uint64) []store.Op {
	var ops []store.Op
	for _, m := range db.Retained {
		ops = append(ops, store.Op{Key: store.RetainedKey(m.Topic), Value: store.EncodeMessage(m)})
	}
	for _, c := range db.Clients {
		if c.Expiry == 0 {
			continue // not a persistent session
		}
		ver := byte(4) // 3.1.1 unless the session has an expiry interval of its own
		if c.Expiry != sessionNeverEnds {
			ver = 5
		}
		rec := &store.Session{Version: ver, Expiry: c.Expiry, DisconnectedAt: now, Username: c.Username}
		ops = append(ops, store.Op{Key: store.SessionKey(c.ID), Value: store.EncodeSession(rec)})
		for f, o := range c.Subs {
			ops = append(ops, store.Op{Key: store.SubKey(c.ID, f), Value: store.EncodeSub(o)})
		}
		for _, o := range append(append([]*session.Outbound(nil), c.Inflight...), c.Queued...) {
			seq++
			ops = append(ops, store.Op{Key: store.OutKey(c.ID, seq), Value: store.EncodeOutbound(o)})
		}
		for mid, m := range c.Inbound {
			ops = append(ops, store.Op{Key: store.InKey(c.ID, mid), Value: store.EncodeMessage(m)})
		}
	}
	return ops
}

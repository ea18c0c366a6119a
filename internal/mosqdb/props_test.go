package mosqdb

import (
	"encoding/binary"
	"testing"
)

func chunk(typ uint32, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, typ)
	b = binary.BigEndian.AppendUint32(b, uint32(len(body)))
	return append(b, body...)
}

func str16(s string) []byte { return append(binary.BigEndian.AppendUint16(nil, uint16(len(s))), s...) }

// TestImportV5Properties: the v5 properties of a stored message and the
// subscription identifiers of a delivery are imported; properties midge does
// not forward are skipped.
func TestImportV5Properties(t *testing.T) {
	file := append([]byte{}, magic...)
	file = append(file, 0, 0, 0, 0, 0, 0, 0, 6)
	cfg := make([]byte, 16)
	cfg[9] = 8
	file = append(file, chunk(chunkCfg, cfg)...)

	var pr []byte
	pr = append(pr, 0x01, 1)
	pr = append(pr, 0x02, 0, 0, 0, 60) // message expiry: skipped
	pr = append(pr, 0x03)
	pr = append(pr, str16("text/plain")...)
	pr = append(pr, 0x08)
	pr = append(pr, str16("reply/here")...)
	pr = append(pr, 0x09)
	pr = append(pr, str16("\x01\x02")...)
	pr = append(pr, 0x26)
	pr = append(pr, str16("k")...)
	pr = append(pr, str16("v")...)
	ms := make([]byte, 32)
	binary.LittleEndian.PutUint64(ms, 7)
	binary.BigEndian.PutUint32(ms[16:], 2) // payload length
	binary.BigEndian.PutUint16(ms[26:], 1) // topic length
	ms[30] = 1                             // QoS
	ms = append(ms, 't')
	ms = append(ms, "hi"...)
	ms = append(ms, byte(len(pr)))
	ms = append(ms, pr...)
	file = append(file, chunk(chunkMsgStore, ms)...)

	cl := make([]byte, 24)
	binary.BigEndian.PutUint32(cl[8:], 3600)
	binary.BigEndian.PutUint16(cl[14:], 3) // id length
	cl = append(cl, "sub"...)
	file = append(file, chunk(chunkClient, cl)...)

	cm := make([]byte, 16)
	binary.LittleEndian.PutUint64(cm, 7)
	binary.BigEndian.PutUint16(cm[10:], 3)
	cm[12], cm[13], cm[15] = 1, msQueued, directionOut
	cm = append(cm, "sub"...)
	cm = append(cm, 2, 0x0B, 42) // subscription identifier 42
	file = append(file, chunk(chunkClientMsg, cm)...)

	db, err := Parse(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(db.Clients) != 1 || len(db.Clients[0].Queued) != 1 {
		t.Fatalf("clients %+v", db.Clients)
	}
	o := db.Clients[0].Queued[0]
	p := o.Msg.Props
	if p == nil || !p.HasPayloadFormat || p.PayloadFormat != 1 || p.ContentType != "text/plain" ||
		p.ResponseTopic != "reply/here" || string(p.CorrelationData) != "\x01\x02" ||
		len(p.User) != 1 || p.User[0].Key != "k" || p.User[0].Value != "v" {
		t.Fatalf("properties %+v", p)
	}
	if len(o.SubIDs) != 1 || o.SubIDs[0] != 42 {
		t.Fatalf("subscription identifiers %v", o.SubIDs)
	}
	if string(o.Msg.Payload) != "hi" || o.Msg.Topic != "t" {
		t.Fatalf("message %+v", o.Msg)
	}
}

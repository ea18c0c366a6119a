package broker

import "github.com/midgemq/midge/internal/store"

// Write-ahead for persistent sessions. A QoS 1/2 PUBLISH to a store-backed
// session goes on the wire only once its record (with its packet id) is
// durable. Otherwise a crash after the send but before the write would let
// the restarted broker forget the packet id while the client still holds it
// as a QoS 2 message awaiting PUBREL [MQTT-4.3.3-9]: the client would then
// take the next message given that id for a duplicate and drop it.
//
// Held packets wait in order in conn.hold; one goroutine per connection
// (started only while something is held) waits for the store and moves them
// to the output buffer. Packets queued behind a held one wait too, so the
// order on the wire is the order of writePublish calls.

// walHold is a connection's held packets, allocated on the first one: most
// connections never hold any.
type walHold struct {
	held      []heldPacket
	releasing bool
}

type heldPacket struct {
	seq uint64 // store sequence number to wait for (0 = none of its own)
	b   []byte // the encoded packet
}

// holdUntilDurable holds the packet enc produces until the store write seq
// is durable, or while earlier packets are held. It reports false when the
// packet needs no holding and the caller writes it as usual.
func (c *conn) holdUntilDurable(seq uint64, enc func([]byte) []byte) bool {
	db := c.srv.Store()
	if db == nil {
		return false
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if (c.hold == nil || len(c.hold.held) == 0) && (seq == 0 || db.Durable(seq)) {
		return false
	}
	if c.wclosed || c.closeAfter {
		return true // closing: the message stays in flight and is re-sent on reconnect
	}
	if c.hold == nil {
		c.hold = &walHold{}
	}
	h := c.hold
	h.held = append(h.held, heldPacket{seq, enc(nil)})
	if !h.releasing {
		h.releasing = true
		go c.releaseHeld(db)
	}
	return true
}

// releaseHeld moves held packets to the output buffer as their writes
// become durable, then ends when nothing is held.
func (c *conn) releaseHeld(db *store.DB) {
	hd := c.hold // set before this goroutine starts, never reset
	for {
		c.wmu.Lock()
		if len(hd.held) == 0 {
			hd.releasing = false
			c.wmu.Unlock()
			return
		}
		upto := uint64(0)
		for _, h := range hd.held {
			upto = max(upto, h.seq)
		}
		c.wmu.Unlock()
		// On a store error the packets are sent anyway: they are in the
		// session's memory, as without persistence.
		db.Wait(upto)
		c.wmu.Lock()
		n := 0
		for _, h := range hd.held {
			if h.seq > upto {
				break
			}
			if !c.wclosed && !c.closeAfter {
				c.out = append(growOut(c.outBuf(), len(h.b)), h.b...)
			}
			n++
		}
		hd.held = append(hd.held[:0], hd.held[n:]...)
		if !c.writing && len(c.out) > 0 {
			c.writing = true
			go c.flushFn()
		}
		c.wmu.Unlock()
	}
}

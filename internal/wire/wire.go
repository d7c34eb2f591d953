package wire

import (
	"encoding/binary"
	"strings"
	"sync/atomic"

	"github.com/miekg/dns"
)

// Answer is a reply packed when its answer is computed (at zone load, or
// when health changes), not per query. A query copies the bytes, patches the
// ID, the RD and CD flags and the question's spelling, type and class, and
// appends its own OPT record (Patch): no message to build, no packing, no
// allocation. An Answer is never written to once published.
type Answer struct {
	buf      []byte // header (ID 0, RD and CD clear), question, answer, authority, additional; no OPT
	qnameEnd int32  // offset just past the question's name (int32: with nx, one word)
	// nx marks a negative answer (NXDOMAIN, or a NODATA shared by every
	// name of a zone): its question varies, so buf is the header alone and
	// the zone's SOA record follows the question (rare.soa).
	nx bool
	// msgs is the reply as a message, by RD and CD, for the recorders of
	// plugins before us (log, prometheus), which read its header and what
	// kind of answer it is; the rotations of one answer share them.
	msgs *recMsgs
	// rare holds what few replies have (rare.go): nil for a plain answer
	// in an unsigned zone, which is most of them, so those cost 48 bytes
	// here rather than 128.
	rare *rare
}

// extraCut is a prefix of buf: its length, and the ARCOUNT it holds.
type extraCut struct {
	off     int
	arcount uint16
}

// recMsgs holds a packed reply as messages for the recorders before us,
// made from the bytes the first time a recorder is there to read one: a
// zone's many answers cost their bytes alone until then (four messages for
// each of 100,000 names would take more memory than the zone). Never
// written to once made.
type recMsgs struct{ v atomic.Pointer[[4]*dns.Msg] }

// get returns the message of wa with the RD and CD flags of flags.
func (c *recMsgs) get(wa *Answer, flags int) *dns.Msg {
	if v := c.v.Load(); v != nil {
		return v[flags]
	}
	m := new(dns.Msg)
	if err := m.Unpack(wa.buf); err != nil {
		// Not expected: the bytes were packed by miekg/dns. The header
		// still tells the recorders what they count.
		m = &dns.Msg{}
		m.Unpack(wa.buf[:12])
	}
	c.v.CompareAndSwap(nil, flagVariants(m))
	return c.v.Load()[flags]
}

// Msg returns the reply as a message with the RD and CD flags that Patch
// reported (flags), for the writers that record what was written. Its ID
// is 0 and, for a negative answer, it has no question. It is shared: never
// write to it.
func (wa *Answer) Msg(flags int) *dns.Msg { return wa.msgs.get(wa, flags&3) }

// Pack packs the reply for qname (as the zone spells it) and qtype with the
// given sections, and the EDE option ede (or nil), or returns nil if it
// does not pack. The reply shares the messages of share, when given: the
// rotations of one answer differ only in record order, which the recorders
// do not read.
func Pack(qname string, qtype uint16, answer, ns, extra []dns.RR, ede []byte, share *Answer) *Answer {
	m := &dns.Msg{
		MsgHdr:   dns.MsgHdr{Response: true, Authoritative: true, Opcode: dns.OpcodeQuery},
		Compress: true,
		Question: []dns.Question{{Name: qname, Qtype: qtype, Qclass: dns.ClassINET}},
		Answer:   answer,
		Ns:       ns,
		Extra:    extra,
	}
	buf, err := m.Pack()
	if err != nil {
		return nil
	}
	// Header, then the name; its type and class follow.
	end := 12
	for end < len(buf) && buf[end] != 0 {
		end += 1 + int(buf[end])
	}
	if end+5 > len(buf) {
		return nil // not expected: miekg/dns packed the question
	}
	wa := &Answer{buf: buf, qnameEnd: int32(end + 1)}
	if cuts := extraCuts(buf, end+5, len(answer)+len(ns), extra); cuts != nil {
		wa.rareFields().cuts = cuts
	}
	if ede != nil {
		wa.rareFields().ede = ede
	}
	if share != nil {
		wa.msgs = share.msgs
	} else {
		wa.msgs = &recMsgs{}
	}
	return wa
}

// extraCuts returns where buf (packed from a message whose additional
// section is extra) may be cut to drop whole RRsets of additional data from
// the end, the longest first. off is where the answer section starts and
// skip the number of answer and authority records.
func extraCuts(buf []byte, off, skip int, extra []dns.RR) []extraCut {
	if len(extra) == 0 {
		return nil
	}
	offs := make([]int, 0, skip+len(extra))
	for range skip + len(extra) {
		if off >= len(buf) {
			return nil
		}
		offs = append(offs, off)
		// Owner name: labels, ending in a zero byte or a pointer.
		for off < len(buf) && buf[off] != 0 && buf[off]&0xc0 != 0xc0 {
			off += 1 + int(buf[off])
		}
		if off < len(buf) && buf[off] != 0 {
			off++ // the pointer's second byte
		}
		off += 1 + 8 // the name's end, type, class, TTL
		if off+2 > len(buf) {
			return nil
		}
		off += 2 + int(binary.BigEndian.Uint16(buf[off:]))
	}
	var cuts []extraCut
	for i := len(extra) - 1; i >= 0; i-- {
		if i == 0 || !SameRRset(extra[i], extra[i-1]) {
			cuts = append(cuts, extraCut{off: offs[skip+i], arcount: uint16(i)})
		}
	}
	return cuts
}

// SameRRset reports whether a and b belong to one RRset: owner (ignoring
// case), type and class. Where a UDP reply may be cut (the additional data
// dropped from the end, an RRset at a time) follows it, on the packed path
// here and on the general path alike.
func SameRRset(a, b dns.RR) bool {
	ha, hb := a.Header(), b.Header()
	return ha.Rrtype == hb.Rrtype && ha.Class == hb.Class && strings.EqualFold(ha.Name, hb.Name)
}

// flagVariants returns m with each combination of RD and CD.
func flagVariants(m *dns.Msg) *[4]*dns.Msg {
	var v [4]*dns.Msg
	for i := range v {
		c := *m
		c.RecursionDesired = i&1 != 0
		c.CheckingDisabled = i&2 != 0
		v[i] = &c
	}
	return &v
}

// EDEOption is the Extended DNS Error option (RFC 8914) with code and
// text, packed.
func EDEOption(code uint16, text string) []byte {
	b := make([]byte, 6, 6+len(text))
	binary.BigEndian.PutUint16(b, dns.EDNS0EDE)
	binary.BigEndian.PutUint16(b[2:], uint16(2+len(text)))
	binary.BigEndian.PutUint16(b[4:], code)
	return append(b, text...)
}

// Negative packs the header and SOA of a negative answer with rcode
// (NXDOMAIN, or NOERROR for NODATA); its question is the query's, so one
// serves every name of a zone. nil unless negSOA is one record that packs.
func Negative(negSOA []dns.RR, rcode int) *Answer {
	if len(negSOA) != 1 {
		return nil
	}
	rr := make([]byte, dns.Len(negSOA[0])+1)
	n, err := dns.PackRR(negSOA[0], rr, 0, nil, false)
	if err != nil {
		return nil
	}
	hdr := dns.MsgHdr{Response: true, Authoritative: true, Opcode: dns.OpcodeQuery, Rcode: rcode}
	m := &dns.Msg{MsgHdr: hdr, Ns: negSOA}
	buf := []byte{0, 0, 0x84, byte(rcode), 0, 1, 0, 0, 0, 1, 0, 0} // QR AA, rcode; 1 question, 1 authority
	msgs := &recMsgs{}
	msgs.v.Store(flagVariants(m)) // its bytes lack the question: made now
	return &Answer{nx: true, buf: buf, msgs: msgs, rare: &rare{soa: rr[:n]}}
}

package wire

import (
	"encoding/binary"
	"strings"

	"github.com/miekg/dns"

	"github.com/hadns/hadns/internal/clientsubnet"
)

// Query is what a packed reply takes from the query it answers, and what
// its OPT record says.
type Query struct {
	ID     uint16
	RD, CD bool
	// Name is the question's name as asked (any case); for a positive
	// answer it is the name the reply was packed for, but for case.
	Name        string
	Type, Class uint16

	// EDNS is set when the query had an OPT record: the reply then gets
	// ours, with BufSize, DO echoed, the ECS option (when ECS.Opt is set)
	// with scope Scope (at most the family's address length), and the EDE option EDE (when not nil).
	EDNS    bool
	DO      bool
	BufSize uint16
	ECS     *clientsubnet.Option
	Scope   uint8
	EDE     []byte

	// UDPLimit, when not 0, is the most bytes the reply may have (a UDP
	// client's buffer): additional RRsets are dropped from the end to fit,
	// and a reply whose answer does not fit is refused.
	UDPLimit int
}

// Patch appends to dst the reply wa with q's ID, flags, question and OPT
// record, and reports which of wa's messages (Msg) stands for it. It
// reports false when the reply needs the general path: a question name
// that is not wa's, is not in miekg/dns's text form without escapes, or
// would be over 255 octets, or a UDP
// reply that would need truncating. The returned slice is dst, grown if it
// had to be, whether it reports true or not, so a pooled buffer keeps its
// capacity.
func Patch(dst []byte, wa *Answer, q *Query) (b []byte, flags int, ok bool) {
	b, flags = header(dst[:0], wa, q)
	if wa.nx {
		if b, ok = appendQuestion(b, q); !ok {
			return b, 0, false
		}
		b = append(b, wa.soa()...)
	} else if !patchName(b, wa, q.Name) {
		return b, 0, false
	} else {
		binary.BigEndian.PutUint16(b[wa.qnameEnd:], q.Type)
		binary.BigEndian.PutUint16(b[wa.qnameEnd+2:], q.Class)
	}
	optLen := 0
	if q.EDNS {
		optLen = optRRLen(q.ECS, q.EDE)
	}
	if size := q.UDPLimit; size > 0 && len(b)+optLen > size {
		// Drop additional RRsets from the end until it fits; the answer
		// itself not fitting is for the general path, which sets TC.
		cuts := wa.cuts()
		i := 0
		for i < len(cuts) && cuts[i].off+optLen > size {
			i++
		}
		if i == len(cuts) {
			return b, 0, false
		}
		b = b[:cuts[i].off]
		binary.BigEndian.PutUint16(b[10:], cuts[i].arcount)
	}
	if q.EDNS {
		b = appendOPT(b, q)
		binary.BigEndian.PutUint16(b[10:], binary.BigEndian.Uint16(b[10:])+1)
	}
	if len(b) > dns.MaxMsgSize {
		return b, 0, false
	}
	return b, flags, true
}

// header appends wa's bytes to b with q's ID and RD and CD flags, and
// returns which of wa's messages has those flags.
func header(b []byte, wa *Answer, q *Query) ([]byte, int) {
	b = append(b, wa.buf...)
	binary.BigEndian.PutUint16(b, q.ID)
	flags := 0
	if q.RD {
		b[2] |= 0x01
		flags |= 1
	}
	if q.CD {
		b[3] |= 0x10
		flags |= 2
	}
	return b, flags
}

// patchName writes name's letters over the question name in b (a copy of
// wa's bytes), so the reply echoes the query's case (and the answers' owners,
// compressed to point at it, with it). It reports false, leaving b's name
// as it may, unless name is wa's name but for the case of its letters.
// Without escapes a name's wire form is its text shifted by one byte: each
// dot becomes the next label's length, so the letters line up.
func patchName(b []byte, wa *Answer, name string) bool {
	if int(wa.qnameEnd)-12 != len(name)+1 {
		return false
	}
	i, p := 0, 12 // name[i] lines up with b[p+1]
	for b[p] != 0 {
		l := int(b[p])
		if i+l >= len(name) || name[i+l] != '.' {
			return false
		}
		for k := 1; k <= l; k++ {
			c := name[i+k-1]
			if !plain[c] || lower(c) != lower(b[p+k]) {
				return false
			}
			b[p+k] = c
		}
		i, p = i+l+1, p+l+1
	}
	return i == len(name)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// appendQuestion appends the question as asked: the name (each label's
// length, then its letters), the type and the class. It reports false for a
// name it cannot write: not fully qualified, with escapes (or bytes that
// would need one) or an empty label, a label over 63 octets, or over 255 octets in all (RFC 1035
// 3.1), which no client could read.
func appendQuestion(b []byte, q *Query) ([]byte, bool) {
	name := q.Name
	if len(name) < 2 || len(name)+1 > 255 || name[len(name)-1] != '.' {
		return b, false
	}
	for i := 0; i < len(name); {
		j := i
		for j < len(name) && name[j] != '.' {
			if !plain[name[j]] {
				return b, false
			}
			j++
		}
		if j == i || j-i > 63 {
			return b, false
		}
		b = append(b, byte(j-i))
		b = append(b, name[i:j]...)
		i = j + 1
	}
	b = append(b, 0)
	return append(b, byte(q.Type>>8), byte(q.Type), byte(q.Class>>8), byte(q.Class)), true
}

// plain holds the bytes that miekg/dns writes as themselves in a name's
// text form, as a query's name reaches us; any other byte is escaped
// (\DDD, or a backslash before it), and a name with escapes takes the
// general path, which knows how to read them.
var plain = func() (p [256]bool) {
	for c := '!'; c <= '~'; c++ {
		p[c] = !strings.ContainsRune(`'@;()"\.`, c)
	}
	return p
}()

// optRRLen is the length appendOPT adds.
func optRRLen(ecs *clientsubnet.Option, ede []byte) int {
	n := 11 + len(ede)
	if ecs != nil && ecs.Opt != nil {
		n += 8 + (ecs.Prefix.Bits()+7)/8
	}
	return n
}

// appendOPT appends our OPT record: our buffer size, DO echoed, and the ECS
// and EDE options when there are any.
func appendOPT(b []byte, q *Query) []byte {
	var flags byte
	if q.DO {
		flags = 0x80
	}
	ecs := q.ECS
	hasECS := ecs != nil && ecs.Opt != nil
	rdlen := len(q.EDE)
	var addr []byte
	if hasECS {
		a := ecs.Prefix.Addr()
		n := (ecs.Prefix.Bits() + 7) / 8
		if a.Is4() {
			a4 := a.As4()
			addr = a4[:n]
		} else {
			a16 := a.As16()
			addr = a16[:n]
		}
		rdlen += 8 + len(addr)
	}
	b = append(b,
		0, // owner: the root
		byte(dns.TypeOPT>>8), byte(dns.TypeOPT),
		byte(q.BufSize>>8), byte(q.BufSize), // class: our UDP buffer size
		0, 0, flags, 0, // TTL: extended rcode, version 0, flags
		byte(rdlen>>8), byte(rdlen))
	if hasECS {
		b = append(b,
			byte(dns.EDNS0SUBNET>>8), byte(dns.EDNS0SUBNET&0xff),
			byte((4+len(addr))>>8), byte(4+len(addr)),
			byte(ecs.Opt.Family>>8), byte(ecs.Opt.Family),
			ecs.Opt.SourceNetmask, q.Scope)
		b = append(b, addr...)
	}
	return append(b, q.EDE...)
}

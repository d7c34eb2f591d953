package hadns

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/metrics"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"

	"github.com/hadns/hadns/internal/clientsubnet"
)

// wireAnswer is a reply packed when its answer is computed (at zone load, or
// when health changes), not per query. A query copies the bytes, patches the
// ID, the RD and CD flags and the question's spelling, type and class, and
// appends its own OPT record: no message to build, no packing, no allocation.
type wireAnswer struct {
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
	// rare holds what few replies have (wire_rare.go): nil for a plain
	// answer in an unsigned zone, which is most of them, so those cost
	// 48 bytes here rather than 128.
	rare *wireRare
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
func (c *recMsgs) get(wa *wireAnswer, flags int) *dns.Msg {
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

// packWire packs the reply for qname (lowercase, as the zone spells it) and
// qtype with res, or returns nil for what the fast path does not serve. The
// reply shares msgs, when given, for its recorders.
func packWire(qname string, qtype uint16, res lookupResult, msgs *recMsgs) *wireAnswer {
	if res.result != Success && res.result != NoData {
		return nil
	}
	m := &dns.Msg{
		MsgHdr:   dns.MsgHdr{Response: true, Authoritative: true, Opcode: dns.OpcodeQuery},
		Compress: true,
		Question: []dns.Question{{Name: qname, Qtype: qtype, Qclass: dns.ClassINET}},
		Answer:   res.answer,
		Ns:       res.ns,
		Extra:    res.extra,
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
	wa := &wireAnswer{buf: buf, qnameEnd: int32(end + 1), msgs: msgs}
	if cuts := extraCuts(buf, end+5, len(res.answer)+len(res.ns), res.extra); cuts != nil {
		wa.rareFields().cuts = cuts
	}
	if res.degraded != nil {
		wa.rareFields().ede = edeOption(res.degraded)
	}
	if wa.msgs == nil {
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
		if i == 0 || !sameRRset(extra[i], extra[i-1]) {
			cuts = append(cuts, extraCut{off: offs[skip+i], arcount: uint16(i)})
		}
	}
	return cuts
}

func sameRRset(a, b dns.RR) bool {
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

// edeOption is the Extended DNS Error option (RFC 8914) for d, packed.
func edeOption(d *degradation) []byte {
	b := make([]byte, 6, 6+len(d.text))
	binary.BigEndian.PutUint16(b, dns.EDNS0EDE)
	binary.BigEndian.PutUint16(b[2:], uint16(2+len(d.text)))
	binary.BigEndian.PutUint16(b[4:], d.code)
	return append(b, d.text...)
}

var notReadyEDE = edeOption(notReady)

// wireBufs holds reply buffers: a reply is written before ServeDNS returns,
// so its buffer goes straight back.
var wireBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, 1024)
	return &b
}}

// writeWire writes wa as the reply to r, and reports false, having written
// nothing, when the reply needs the general path: a writer before us that
// must see a message, a question name with escapes, or a UDP reply that
// would need truncating.
func writeWire(w dns.ResponseWriter, r *dns.Msg, wa *wireAnswer, reqOpt *dns.OPT, ecs *clientsubnet.Option, scope uint8, ede []byte, udp bool) bool {
	if !plainWriters(w) {
		return false
	}
	q := &r.Question[0]
	if wa.nx {
		return writeNX(w, r, wa, reqOpt, ecs, scope, ede, udp)
	}
	// Without escapes a name's wire form is its text shifted by one byte:
	// each dot becomes the next label's length, so the letters line up.
	if int(wa.qnameEnd)-12 != len(q.Name)+1 || hasEscape(q.Name) {
		return false
	}
	bp := wireBufs.Get().(*[]byte)
	defer wireBufs.Put(bp)
	b, flags := header((*bp)[:0], wa, r)
	for i := 0; i < len(q.Name); i++ {
		if c := q.Name[i]; c != '.' {
			b[13+i] = c
		}
	}
	binary.BigEndian.PutUint16(b[wa.qnameEnd:], q.Qtype)
	binary.BigEndian.PutUint16(b[wa.qnameEnd+2:], q.Qclass)
	return finishWire(w, r, bp, b, wa, reqOpt, ecs, scope, ede, udp, flags)
}

// finishWire appends the OPT record to b and writes it, unless it is too
// big for UDP.
func finishWire(w dns.ResponseWriter, r *dns.Msg, bp *[]byte, b []byte, wa *wireAnswer, reqOpt *dns.OPT, ecs *clientsubnet.Option, scope uint8, ede []byte, udp bool, flags int) bool {
	optLen := 0
	if reqOpt != nil {
		optLen = optRRLen(ecs, ede)
	}
	if size := udpSize(reqOpt); udp && len(b)+optLen > size {
		// Drop additional RRsets from the end until it fits; the answer
		// itself not fitting is for the general path, which sets TC.
		i := 0
		cuts := wa.cuts()
		for i < len(cuts) && cuts[i].off+optLen > size {
			i++
		}
		if i == len(cuts) {
			*bp = b
			return false
		}
		b = b[:cuts[i].off]
		binary.BigEndian.PutUint16(b[10:], cuts[i].arcount)
	}
	if reqOpt != nil {
		b = appendOPT(b, reqOpt.Do(), ecs, scope, ede)
		binary.BigEndian.PutUint16(b[10:], binary.BigEndian.Uint16(b[10:])+1)
	}
	*bp = b
	if len(b) > dns.MaxMsgSize {
		return false
	}
	if _, err := w.Write(b); err != nil {
		noteUnsent(unsentWrite, r, err)
	}
	walkWriters(w, func(r *dnstest.Recorder) {
		m := wa.msgs.get(wa, flags)
		r.Msg, r.Rcode = m, m.Rcode
	})
	return true
}

// writeNX writes an NXDOMAIN: the header, the question as asked, and the
// zone's SOA.
func writeNX(w dns.ResponseWriter, r *dns.Msg, wa *wireAnswer, reqOpt *dns.OPT, ecs *clientsubnet.Option, scope uint8, ede []byte, udp bool) bool {
	q := &r.Question[0]
	if len(q.Name) < 2 || hasEscape(q.Name) {
		return false
	}
	bp := wireBufs.Get().(*[]byte)
	defer wireBufs.Put(bp)
	b, flags := header((*bp)[:0], wa, r)
	// The name: each label's length, then its letters.
	for i := 0; i < len(q.Name); {
		j := i
		for j < len(q.Name) && q.Name[j] != '.' {
			j++
		}
		if j == i || j-i > 63 {
			return false
		}
		b = append(b, byte(j-i))
		b = append(b, q.Name[i:j]...)
		i = j + 1
	}
	b = append(b, 0)
	b = append(b, byte(q.Qtype>>8), byte(q.Qtype), byte(q.Qclass>>8), byte(q.Qclass))
	b = append(b, wa.soa()...)
	return finishWire(w, r, bp, b, wa, reqOpt, ecs, scope, ede, udp, flags)
}

// header appends wa's bytes to b with r's ID and RD and CD flags, and
// returns which of wa's messages has those flags.
func header(b []byte, wa *wireAnswer, r *dns.Msg) ([]byte, int) {
	b = append(b, wa.buf...)
	binary.BigEndian.PutUint16(b, r.Id)
	flags := 0
	if r.RecursionDesired {
		b[2] |= 0x01
		flags |= 1
	}
	if r.CheckingDisabled {
		b[3] |= 0x10
		flags |= 2
	}
	return b, flags
}

func hasEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			return true
		}
	}
	return false
}

// optRRLen is the length appendOPT adds.
func optRRLen(ecs *clientsubnet.Option, ede []byte) int {
	n := 11 + len(ede)
	if ecs.Opt != nil {
		n += 8 + (ecs.Prefix.Bits()+7)/8
	}
	return n
}

// appendOPT appends our OPT record: our buffer size, DO echoed, and the ECS
// and EDE options when there are any.
func appendOPT(b []byte, do bool, ecs *clientsubnet.Option, scope uint8, ede []byte) []byte {
	var flags byte
	if do {
		flags = 0x80
	}
	rdlen := len(ede)
	var addr []byte
	if ecs.Opt != nil {
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
		byte(maxUDPSize>>8), byte(maxUDPSize&0xff), // class: our UDP buffer size
		0, 0, flags, 0, // TTL: extended rcode, version 0, flags
		byte(rdlen>>8), byte(rdlen))
	if ecs.Opt != nil {
		b = append(b,
			byte(dns.EDNS0SUBNET>>8), byte(dns.EDNS0SUBNET&0xff),
			byte((4+len(addr))>>8), byte(4+len(addr)),
			byte(ecs.Opt.Family>>8), byte(ecs.Opt.Family),
			ecs.Opt.SourceNetmask, scope)
		b = append(b, addr...)
	}
	return append(b, ede...)
}

// plainWriters reports whether every writer between us and the server is
// one we know takes raw bytes as well as a message: CoreDNS's writer between
// plugins, the recorders of log and prometheus (given the message by
// recordMsg), and CoreDNS's own ScrubWriter underneath. Anything else
// (dnstap, tsig, nsid...) may act on the message, so it gets one.
func plainWriters(w dns.ResponseWriter) bool { return walkWriters(w, nil) }

// recordMsg tells the recorders before us what was written, as WriteMsg
// would have.
func recordMsg(w dns.ResponseWriter, m *dns.Msg) {
	walkWriters(w, func(r *dnstest.Recorder) { r.Msg, r.Rcode = m, m.Rcode })
}

// walkWriters follows w down through the writers known to take raw bytes,
// calling rec (if not nil) on each recorder, and reports whether it reached
// CoreDNS's ScrubWriter.
func walkWriters(w dns.ResponseWriter, rec func(*dnstest.Recorder)) bool {
	for {
		var r *dnstest.Recorder
		switch t := w.(type) {
		case *request.ScrubWriter:
			return true
		case *metrics.Recorder:
			r = t.Recorder
		case *dnstest.Recorder:
			r = t
		default:
			inner, ok := unwrapPluginWriter(w)
			if !ok {
				return false
			}
			w = inner
			continue
		}
		if rec != nil {
			rec(r)
		}
		w = r.ResponseWriter
	}
}

// pluginWriterType is the writer plugin.NextOrFailure puts around every
// plugin's writer to note which plugin answered. It passes raw bytes on, but
// its type is unexported: we learn it by making one, and check that its
// first field is the writer it wraps. nil if that ever stops being so, and
// pluginWriterProblem then says why: behind other plugins every answer then
// takes the general path (packed per query), which setup logs and the
// fast_path metric shows.
var pluginWriterType, pluginWriterProblem = learnPluginWriter(func(h plugin.Handler, w dns.ResponseWriter, r *dns.Msg) {
	plugin.NextOrFailure("", h, context.Background(), w, r)
})

// learnPluginWriter runs call, which should hand h the writer CoreDNS puts
// around w, and returns that writer's type if the fast path can see through
// it, or why not. A panic in call is a reason, not a crash.
func learnPluginWriter(call func(h plugin.Handler, w dns.ResponseWriter, r *dns.Msg)) (t reflect.Type, problem string) {
	defer func() {
		if r := recover(); r != nil {
			t, problem = nil, fmt.Sprintf("calling the next plugin panicked: %v", r)
		}
	}()
	var seen dns.ResponseWriter
	probe := &probeWriter{}
	call(plugin.HandlerFunc(func(_ context.Context, w dns.ResponseWriter, _ *dns.Msg) (int, error) {
		seen = w
		return 0, nil
	}), probe, new(dns.Msg))
	if seen == nil {
		return nil, "the next plugin was not called, or got no writer"
	}
	if seen == dns.ResponseWriter(probe) {
		return nil, "" // no writer between plugins: nothing to see through
	}
	t = reflect.TypeOf(seen)
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct || t.Elem().NumField() == 0 {
		return nil, fmt.Sprintf("the writer between plugins, %v, is not a pointer to a struct", t)
	}
	f := t.Elem().Field(0)
	if !f.IsExported() || f.Type != reflect.TypeFor[dns.ResponseWriter]() {
		return nil, fmt.Sprintf("the first field of the writer between plugins, %v, is %s %v, not an exported dns.ResponseWriter", t, f.Name, f.Type)
	}
	if inner, _ := reflect.ValueOf(seen).Elem().Field(0).Interface().(dns.ResponseWriter); inner != dns.ResponseWriter(probe) {
		return nil, fmt.Sprintf("the writer between plugins, %v, does not hold the writer it wraps in %s", t, f.Name)
	}
	return t, ""
}

// probeWriter is the writer learnPluginWriter hands CoreDNS; nothing is
// written to it.
type probeWriter struct{ dns.ResponseWriter }

// unwrapPluginWriter returns the writer inside CoreDNS's writer between
// plugins, without allocating.
func unwrapPluginWriter(w dns.ResponseWriter) (dns.ResponseWriter, bool) {
	if pluginWriterType == nil || reflect.TypeOf(w) != pluginWriterType {
		return nil, false
	}
	inner, ok := reflect.ValueOf(w).Elem().Field(0).Interface().(dns.ResponseWriter)
	return inner, ok && inner != nil
}

// packAnswers packs every rotation of a site's answers.
func packAnswers(s *service, sa *siteAnswers) {
	packRR(s, s.name, dns.TypeA, &sa.a)
	packRR(s, s.name, dns.TypeAAAA, &sa.aaaa)
	for i := range sa.srv {
		packRR(s, s.srv[i].name, dns.TypeSRV, &sa.srv[i])
	}
}

func packRR(s *service, owner string, qtype uint16, ra *rrAnswer) {
	res := lookupResult{result: ra.result, extra: ra.extra, degraded: ra.degraded}
	switch ra.result {
	case Success:
		ra.wire = make([]*wireAnswer, len(ra.rotations))
		var msgs *recMsgs
		for i, rot := range ra.rotations {
			res.answer = rot
			if ra.wire[i] = packWire(owner, qtype, res, msgs); ra.wire[i] != nil {
				msgs = ra.wire[i].msgs
			}
		}
	case NoData:
		// The zone's NODATA, which takes its question from the query; a
		// degraded one carries its EDE beside the shared bytes.
		if wa := s.noData; wa != nil {
			if ra.degraded != nil {
				wa = wa.withEDE(edeOption(ra.degraded))
			}
			ra.wire = []*wireAnswer{wa}
		}
	}
}

// packStatic packs the static answers of every name: each RRset as asked,
// and the NODATA reply, which like the NXDOMAIN takes its question from the
// query, so one serves every name of the zone. It runs once the zone is
// checked, and drops the record lines kept for error messages.
func (z *Zone) packStatic() {
	noData := packNegative(z.negSOA, dns.RcodeSuccess)
	for name, n := range z.nodes {
		for i := range n.rrsets {
			ts := &n.rrsets[i]
			if n.more != nil && len(n.more.extraSvc[ts.t]) > 0 {
				continue // its additional data follows health: packed with the service's answers
			}
			ts.wa = packWire(name, ts.t, lookupResult{result: Success, answer: ts.set, extra: n.extraFor(ts.t)}, nil)
		}
	}
	z.lines = nil
	z.noData = noData
	// The apex's SOA is owned by the query name: packed for it, the owner
	// points at the question and takes its spelling.
	z.apexNoData = packWire(z.origin, 0, lookupResult{result: NoData, ns: z.negSOA}, nil)
	z.nx = packNX(z.negSOA)
	for _, s := range z.services {
		s.negSOA, s.noData = z.negSOA, noData
	}
}

// writeMsg writes a reply built as a message. We size and truncate our
// replies ourselves, so where the writers allow we pack it and write the
// bytes, past CoreDNS's ScrubWriter, which would set the client's buffer
// size in our OPT record.
//
// A reply that cannot be packed (over 65535 bytes: an SRV answer over TCP
// is never truncated) or written is logged and counted, never dropped in
// silence; the client of one too big gets SERVFAIL instead.
func writeMsg(w dns.ResponseWriter, m *dns.Msg) {
	if !plainWriters(w) {
		if err := w.WriteMsg(m); err != nil {
			writeFailed(w, m, err)
		}
		return
	}
	bp := wireBufs.Get().(*[]byte)
	defer wireBufs.Put(bp)
	b, err := m.PackBuffer((*bp)[:cap(*bp)])
	if err == nil && len(b) > dns.MaxMsgSize {
		err = errTooBig
	}
	if err != nil {
		writeFailed(w, m, err)
		return
	}
	if _, err := w.Write(b); err != nil {
		noteUnsent(unsentWrite, m, err)
	}
	if cap(b) <= 64<<10 {
		*bp = b[:0]
	}
	recordMsg(w, m)
}

var errTooBig = errors.New("over 65535 bytes")

// writeFailed handles a reply that could not be written: one that does not
// pack (too big) is replaced by a SERVFAIL, so the client does not wait for
// nothing.
func writeFailed(w dns.ResponseWriter, m *dns.Msg, err error) {
	// miekg/dns's TCP writer says "message too large".
	tooBig := errors.Is(err, errTooBig) || strings.Contains(err.Error(), "too large")
	if !tooBig || len(m.Answer)+len(m.Ns)+len(m.Extra) == 0 {
		noteUnsent(unsentWrite, m, err)
		return
	}
	noteUnsent(unsentTooBig, m, err)
	f := new(dns.Msg)
	f.SetRcode(m, dns.RcodeServerFailure)
	f.Id, f.RecursionDesired, f.CheckingDisabled = m.Id, m.RecursionDesired, m.CheckingDisabled
	f.Authoritative = false
	if opt := m.IsEdns0(); opt != nil {
		f.Extra = []dns.RR{opt}
	}
	if err := w.WriteMsg(f); err != nil {
		noteUnsent(unsentWrite, f, err)
	}
}

// packNX packs what an NXDOMAIN in the zone has in common: the header and
// the SOA.
func packNX(negSOA []dns.RR) *wireAnswer { return packNegative(negSOA, dns.RcodeNameError) }

// packNegative packs the header and SOA of a negative answer with rcode
// (NXDOMAIN, or NOERROR for NODATA); its question is the query's.
func packNegative(negSOA []dns.RR, rcode int) *wireAnswer {
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
	return &wireAnswer{nx: true, buf: buf, msgs: msgs, rare: &wireRare{soa: rr[:n]}}
}

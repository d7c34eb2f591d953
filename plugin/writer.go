package hadns

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/metrics"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"

	"github.com/hadns/hadns/internal/clientsubnet"
	"github.com/hadns/hadns/internal/wire"
)

// wireBufs holds reply buffers: a reply is written before ServeDNS returns,
// so its buffer goes straight back.
var wireBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, 1024)
	return &b
}}

// writeWire writes wa as the reply to r, and reports false, having written
// nothing, when the reply needs the general path: a writer before us that
// must see a message, or a reply wire.Patch refuses (a question name with
// escapes, a UDP reply that would need truncating).
func writeWire(w dns.ResponseWriter, r *dns.Msg, wa *wire.Answer, reqOpt *dns.OPT, ecs *clientsubnet.Option, scope uint8, ede []byte, udp bool) bool {
	if !plainWriters(w) {
		return false
	}
	q := &r.Question[0]
	pq := wire.Query{
		ID: r.Id, RD: r.RecursionDesired, CD: r.CheckingDisabled,
		Name: q.Name, Type: q.Qtype, Class: q.Qclass,
		EDNS: reqOpt != nil, BufSize: maxUDPSize, ECS: ecs, Scope: scope, EDE: ede,
	}
	if reqOpt != nil {
		pq.DO = reqOpt.Do()
	}
	if udp {
		pq.UDPLimit = udpSize(reqOpt)
	}
	bp := wireBufs.Get().(*[]byte)
	defer wireBufs.Put(bp)
	b, flags, ok := wire.Patch(*bp, wa, &pq)
	*bp = b
	if !ok {
		return false
	}
	if _, err := w.Write(b); err != nil {
		noteUnsent(unsentWrite, r, err)
	}
	walkWriters(w, func(r *dnstest.Recorder) {
		m := wa.Msg(flags)
		r.Msg, r.Rcode = m, m.Rcode
	})
	return true
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

package healthcheck

import (
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Target is one thing to check: an address and how to check it.
type Target struct {
	// Addr is the backend's address and service port.
	Addr netip.AddrPort
	// Spec is the check; nil means every default. Targets with the same
	// check may share one Spec (see Specs), so a Spec must not change once
	// a target points at it. Set fills its defaults.
	Spec *Spec
}

// spec returns t's check, the zero Spec when it has none.
func (t Target) spec() Spec {
	if t.Spec == nil {
		return Spec{}
	}
	return *t.Spec
}

// ProbeAddr is the address the probe connects to: Addr, with its port
// replaced by Spec.Port when that is set.
func (t Target) ProbeAddr() netip.AddrPort {
	if t.Spec != nil && t.Spec.Port != 0 {
		return netip.AddrPortFrom(t.Addr.Addr(), uint16(t.Spec.Port))
	}
	return t.Addr
}

// Key identifies the probe loop of t: the probe address and the defaulted
// spec, every field, in a fixed order with map keys sorted, so it is
// canonical and stable across reloads. Two targets that probe the same
// address the same way share a key (and a loop) even if their service ports
// differ, or one spells out a default the other leaves zero.
//
// It looks like "tcp://127.0.0.1:80?interval=1s&timeout=800ms&...".
func (t Target) Key() string {
	s := t.spec().WithDefaults()
	var b strings.Builder
	b.Grow(128)
	b.WriteString(s.Kind)
	b.WriteString("://")
	b.WriteString(t.ProbeAddr().String())
	s.writeQuery(&b)
	return b.String()
}

// writeQuery writes every field of s but Kind and Port to b, as a URL
// query ("?interval=1s&timeout=800ms&..."), in a fixed order with map keys
// sorted, and zero fields left out.
func (s *Spec) writeQuery(b *strings.Builder) {
	sep := byte('?')
	add := func(name, val string) {
		if val == "" {
			return
		}
		b.WriteByte(sep)
		sep = '&'
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(val))
	}
	dur := func(d time.Duration) string {
		if d == 0 {
			return ""
		}
		return d.String()
	}
	num := func(n int) string {
		if n == 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	add("interval", dur(s.Interval))
	add("timeout", dur(s.Timeout))
	add("fast_interval", dur(s.FastInterval))
	add("down_interval", dur(s.DownInterval))
	add("rise", num(s.Rise))
	add("fall", num(s.Fall))
	add("method", s.Method)
	add("path", s.Path)
	add("host", s.Host)
	if len(s.Headers) > 0 {
		names := make([]string, 0, len(s.Headers))
		for k := range s.Headers {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			// The name is escaped as values are: unescaped, a name holding
			// "=" or "&" could spell the key of two other headers.
			add("header."+url.QueryEscape(k), s.Headers[k])
		}
	}
	add("status", strings.Join(s.Status, ","))
	add("body", s.Body)
	add("body_regexp", s.BodyRegexp)
	add("server_name", s.ServerName)
	add("ca_file", s.CAFile)
	if s.Insecure {
		add("insecure", "true")
	}
	add("qname", s.QName)
	add("qtype", s.QType)
	add("rcode", s.RCode)
	add("send", s.Send)
	add("expect", s.Expect)
	add("keepalive_interval", dur(s.KeepaliveInterval))
	add("keepalive_count", num(s.KeepaliveCount))
	add("source", s.Source)
}

// ViewKey is Key without Spec.Source: what the check observes, whatever
// address it is sent from. Instances of a nameserver set that probe one
// backend the same way from different local addresses compare their
// views of it under this key.
func (t Target) ViewKey() string {
	if t.Spec == nil || t.Spec.Source == "" {
		return t.Key()
	}
	sp := *t.Spec // shared through Specs: never edited in place
	sp.Source = ""
	t.Spec = &sp
	return t.Key()
}

// source is the address probes of t are sent from; the zero Addr (the
// kernel's choice) without Spec.Source or when it does not parse
// (Validate refuses that).
func (t Target) source() netip.Addr {
	if t.Spec == nil || t.Spec.Source == "" {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(t.Spec.Source)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

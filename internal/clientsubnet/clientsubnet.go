// Package clientsubnet reads the EDNS Client Subnet option of a query and
// builds the one its reply echoes (RFC 7871). It owns the option's
// validation (what is a FORMERR) and nothing else: which site a subnet is in
// belongs to internal/sites, and writing the option into a packed reply to
// the wire code. Options are passed by value, so the query path does not
// allocate.
package clientsubnet

import (
	"errors"
	"net/netip"

	"github.com/miekg/dns"
)

// Option is the EDNS Client Subnet option of a query (RFC 7871); Opt is
// nil when the query has none. It is passed by value: no allocation.
type Option struct {
	Opt    *dns.EDNS0_SUBNET
	Prefix netip.Prefix // the masked source network
}

// ErrMalformed is a query's ECS option that RFC 7871 makes a FORMERR.
var ErrMalformed = errors.New("malformed EDNS Client Subnet option")

// Parse finds and validates the ECS option. RFC 7871 section 6, 7.1.1
// and 7.1.2: a source prefix too long for the family, a non-zero scope in a
// query, address bits beyond the source prefix, or an ADDRESS of more (or
// fewer) octets than the source prefix needs are a FORMERR.
func Parse(opt *dns.OPT) (Option, error) {
	if opt == nil {
		return Option{}, nil
	}
	for _, o := range opt.Option {
		if e, ok := o.(*dns.EDNS0_SUBNET); ok && e.Family != 0 && !optionsFill(opt) {
			return Option{}, ErrMalformed
		}
	}
	for _, o := range opt.Option {
		e, ok := o.(*dns.EDNS0_SUBNET)
		if !ok {
			continue
		}
		var a netip.Addr
		var maxBits uint8
		switch e.Family {
		case 1:
			maxBits = 32
			a, ok = netip.AddrFromSlice(e.Address.To4())
		case 2:
			maxBits = 128
			a, ok = netip.AddrFromSlice(e.Address.To16())
		default:
			return Option{}, ErrMalformed
		}
		if !ok || e.SourceNetmask > maxBits || e.SourceScope != 0 {
			return Option{}, ErrMalformed
		}
		if e.Family == 1 {
			a = a.Unmap()
		}
		p := netip.PrefixFrom(a, int(e.SourceNetmask))
		if p.Masked().Addr() != a {
			return Option{}, ErrMalformed
		}
		return Option{Opt: e, Prefix: p}, nil
	}
	return Option{}, nil
}

// optionsFill reports whether the ECS option of opt came with an ADDRESS of
// just the octets its source prefix needs (RFC 7871 6). miekg/dns pads or
// cuts the address to its family's length when unpacking, so the OPT
// record's RDATA length, less the other options' lengths, is the one trace
// of the length that came on the wire. An OPT record built in memory has
// no RDATA length, and one whose options a plugin before us added to
// leaves too little for the ECS option: both pass.
func optionsFill(opt *dns.OPT) bool {
	if opt.Hdr.Rdlength == 0 {
		return true
	}
	others, need, ecs := 0, 0, 0
	for _, o := range opt.Option {
		switch o := o.(type) {
		case *dns.EDNS0_SUBNET:
			need = (int(o.SourceNetmask) + 7) / 8
			ecs++
		case *dns.EDNS0_COOKIE:
			others += 4 + len(o.Cookie)/2
		case *dns.EDNS0_LOCAL:
			others += 4 + len(o.Data)
		case *dns.EDNS0_PADDING:
			others += 4 + len(o.Padding)
		default:
			// Rare in queries: let miekg/dns pack it (this allocates).
			others += dns.Len(&dns.OPT{Hdr: dns.RR_Header{Name: "."}, Option: []dns.EDNS0{o}}) - 11
		}
	}
	addr := int(opt.Hdr.Rdlength) - others - 8 // the ECS option's code, length, family, prefixes
	return ecs != 1 || addr < 0 || addr == need
}

// Reply is the ECS option for the reply: the query's family, source
// prefix and address with the scope we answered for.
func (c *Option) Reply(scope uint8) *dns.EDNS0_SUBNET {
	return &dns.EDNS0_SUBNET{
		Code:          dns.EDNS0SUBNET,
		Family:        c.Opt.Family,
		SourceNetmask: c.Opt.SourceNetmask,
		SourceScope:   scope,
		Address:       c.Opt.Address,
	}
}

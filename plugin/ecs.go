package hadns

import (
	"errors"
	"net"
	"net/netip"

	"github.com/miekg/dns"
)

// clientSubnet is the EDNS Client Subnet option of a query (RFC 7871); opt
// is nil when the query has none. It is passed by value: no allocation.
type clientSubnet struct {
	opt    *dns.EDNS0_SUBNET
	prefix netip.Prefix // the masked source network
}

var errBadECS = errors.New("malformed EDNS Client Subnet option")

// queryECS finds and validates the ECS option. RFC 7871 section 6, 7.1.1
// and 7.1.2: a source prefix too long for the family, a non-zero scope in a
// query, address bits beyond the source prefix, or an ADDRESS of more (or
// fewer) octets than the source prefix needs are a FORMERR.
func queryECS(opt *dns.OPT) (clientSubnet, error) {
	if opt == nil {
		return clientSubnet{}, nil
	}
	for _, o := range opt.Option {
		if e, ok := o.(*dns.EDNS0_SUBNET); ok && e.Family != 0 && !optionsFill(opt) {
			return clientSubnet{}, errBadECS
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
			return clientSubnet{}, errBadECS
		}
		if !ok || e.SourceNetmask > maxBits || e.SourceScope != 0 {
			return clientSubnet{}, errBadECS
		}
		if e.Family == 1 {
			a = a.Unmap()
		}
		p := netip.PrefixFrom(a, int(e.SourceNetmask))
		if p.Masked().Addr() != a {
			return clientSubnet{}, errBadECS
		}
		return clientSubnet{opt: e, prefix: p}, nil
	}
	return clientSubnet{}, nil
}

// optionsFill reports whether opt's options, packed as RFC 7871 6 asks (an
// ECS ADDRESS of just the octets its source prefix needs), fill the RDATA
// length the OPT record came with. miekg/dns pads or cuts an ECS address
// to its family's length when unpacking, so the RDATA length is the one
// trace of a wrong one. An OPT record built in memory has no RDATA length
// and passes.
func optionsFill(opt *dns.OPT) bool {
	if opt.Hdr.Rdlength == 0 {
		return true
	}
	n := 0
	for _, o := range opt.Option {
		switch o := o.(type) {
		case *dns.EDNS0_SUBNET:
			n += 4 + 4 + (int(o.SourceNetmask)+7)/8
		case *dns.EDNS0_COOKIE:
			n += 4 + len(o.Cookie)/2
		case *dns.EDNS0_LOCAL:
			n += 4 + len(o.Data)
		case *dns.EDNS0_PADDING:
			n += 4 + len(o.Padding)
		default:
			// Rare in queries: let miekg/dns pack it (this allocates).
			n += dns.Len(&dns.OPT{Hdr: dns.RR_Header{Name: "."}, Option: []dns.EDNS0{o}}) - 11
		}
	}
	return n == int(opt.Hdr.Rdlength)
}

// replyECS is the ECS option for the reply: the query's family, source
// prefix and address with the scope we answered for.
func (c *clientSubnet) replyECS(scope uint8) *dns.EDNS0_SUBNET {
	return &dns.EDNS0_SUBNET{
		Code:          dns.EDNS0SUBNET,
		Family:        c.opt.Family,
		SourceNetmask: c.opt.SourceNetmask,
		SourceScope:   scope,
		Address:       c.opt.Address,
	}
}

// remoteAddr returns the query's source address without allocating.
func remoteAddr(a net.Addr) netip.Addr {
	var ip net.IP
	switch a := a.(type) {
	case *net.UDPAddr:
		ip = a.IP
	case *net.TCPAddr:
		ip = a.IP
	default:
		return netip.Addr{}
	}
	addr, _ := netip.AddrFromSlice(ip)
	return addr.Unmap()
}

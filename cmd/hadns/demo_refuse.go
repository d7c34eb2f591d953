package main

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// refuseFrom is the demo's -refuse-from list: source addresses whose
// health checks fail, as a backend behind a firewall that lets one of the
// nameservers' checkers through and not another. It is how a test (or a
// demonstration of `health: quorum N`) cuts one checker off a healthy
// backend without touching the others.
type refuseFrom []netip.Addr

func (r *refuseFrom) String() string {
	var s []string
	for _, a := range *r {
		s = append(s, a.String())
	}
	return strings.Join(s, ",")
}

func (r *refuseFrom) Set(v string) error {
	a, err := netip.ParseAddr(v)
	if err != nil {
		return fmt.Errorf("want an IP address: %w", err)
	}
	*r = append(*r, a.Unmap())
	return nil
}

// refuses reports whether a request from remote (host:port) is refused,
// and the address it came from.
func (r refuseFrom) refuses(remote string) (string, bool) {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return "", false
	}
	a := ap.Addr().Unmap()
	return a.String(), slices.Contains(r, a)
}

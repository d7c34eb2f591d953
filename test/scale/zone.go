package main

import (
	"fmt"
	"strings"
)

// shape is a generated zone: services × backends spread over sites.
type shape struct {
	origin   string // e.g. big.test.
	services int
	backends int // in all, spread evenly over the services
	sites    int
	wwwIP    string // the static www record, changed to trigger a reload
}

// siteName is site i's name.
func siteName(i int) string { return fmt.Sprintf("s%d", i) }

// serviceName is service i's name, relative to the origin.
func serviceName(i int) string { return fmt.Sprintf("svc%d", i) }

// zoneYAML writes the hadns zone: backend j of the zone has the listener
// addrs[j] and site j mod sites, so every service has backends in every
// site; tcp checks at the defaults.
func (z shape) zoneYAML(addrs []string) string {
	var b strings.Builder
	b.Grow(z.backends * 64)
	fmt.Fprintf(&b, "origin: %s\nsoa: {mname: ns1.%s, rname: hostmaster.%s, serial: 1}\nns: [ns1]\nrecords: |\n  ns1 A 127.0.0.1\n  www A %s\nservices:\n",
		z.origin, z.origin, z.origin, z.wwwIP)
	per := z.backends / z.services
	for s := 0; s < z.services; s++ {
		fmt.Fprintf(&b, "  - name: %s\n    srv: [_http._tcp]\n    check: {kind: tcp}\n    backends:\n", serviceName(s))
		for k := 0; k < per; k++ {
			j := s*per + k
			host, port, _ := strings.Cut(addrs[j], ":")
			fmt.Fprintf(&b, "      - {address: %s, port: %s, site: %s}\n", host, port, siteName(j%z.sites))
		}
	}
	return b.String()
}

// siteLines are the Corefile's site lines: s0 holds 127.0.0.0/16 (the
// clients here, dnsperf at 127.0.0.1), the others networks no client here
// uses; each falls back to the next.
func siteLines(sites int) string {
	var b strings.Builder
	for i := 0; i < sites; i++ {
		cidr := "127.0.0.0/16"
		if i > 0 {
			cidr = fmt.Sprintf("127.%d.0.0/16", 9+i)
		}
		fmt.Fprintf(&b, "        site %s %s fallback %s\n", siteName(i), cidr, siteName((i+1)%sites))
	}
	return b.String()
}

func corefile(port, readyPort int, reload string, files []string, sites int) string {
	var zones strings.Builder
	for _, f := range files {
		fmt.Fprintf(&zones, "        zone %s\n", f)
	}
	return fmt.Sprintf(`.:%d {
    bind 127.0.0.1
    ready 127.0.0.1:%d
    hadns {
%s%s        reload %s
    }
}
`, port, readyPort, zones.String(), siteLines(sites), reload)
}

// listenAddrs are n backend addresses on 127.2.x.y (and up), perAddr ports
// each from 20000 up: below Linux's ephemeral range, so the listeners do
// not take the ports the checker connects from.
func listenAddrs(n, perAddr, firstOctet int) []string {
	out := make([]string, n)
	for i := range out {
		a := i / perAddr
		out[i] = fmt.Sprintf("127.%d.%d.%d:%d", firstOctet+a/(250*256), a/250%256, a%250+1, 20000+i%perAddr)
	}
	return out
}

package hadns

import (
	"net/netip"

	"github.com/coredns/caddy"

	"github.com/hadns/hadns/healthcheck"
	"github.com/hadns/hadns/internal/zone"
)

// probeSources is the `probe_source ADDR [ADDR]` line: the local address
// this instance's probes are sent from, one for each family at most. It is
// the host's, not the zone's: on a host with several addresses, backends
// (or their firewalls) may accept checks from one of them only, and each
// instance of a nameserver set names its own.
type probeSources struct {
	v4, v6 netip.Addr
}

// parseProbeSource reads the arguments of `probe_source`.
func parseProbeSource(c *caddy.Controller) (probeSources, error) {
	var ps probeSources
	args := c.RemainingArgs()
	if len(args) == 0 || len(args) > 2 {
		return ps, c.ArgErr()
	}
	for _, a := range args {
		addr, err := netip.ParseAddr(a)
		if err != nil || addr.Zone() != "" || addr.IsUnspecified() {
			return ps, c.Errf("probe_source %q: want an IP address of this host", a)
		}
		addr = addr.Unmap()
		slot := &ps.v6
		if addr.Is4() {
			slot = &ps.v4
		}
		if slot.IsValid() {
			return ps, c.Errf("probe_source: two addresses of one family (%s, %s)", *slot, addr)
		}
		*slot = addr
	}
	return ps, nil
}

// forAddr is the source for probes to backend address a: the one of its
// family, "" (the kernel's choice) when none is set.
func (ps probeSources) forAddr(a netip.Addr) string {
	src := ps.v6
	if a.Unmap().Is4() {
		src = ps.v4
	}
	if !src.IsValid() {
		return ""
	}
	return src.String()
}

// applyProbeSource sets the check of b to go out from this instance's
// source. It runs when a snapshot is installed, before any key of it is
// taken; it writes only when the value changes, so a backend an earlier
// install already set (one a published snapshot may share) is not written
// again.
//
// The check's Spec is shared with every backend checked alike (interned when
// the zone was loaded), so it is never edited in place: the source goes into
// a copy, interned in the engine's own Specs so that backends checked alike
// still share one.
func (e *engine) applyProbeSource(b *zone.Backend) {
	src := e.cfg.probeSource.forAddr(b.Addr())
	cur := b.Check().Spec
	if cur != nil && cur.Source == src || cur == nil && src == "" {
		return
	}
	var sp healthcheck.Spec
	if cur != nil {
		sp = *cur
	}
	sp.Source = src
	b.SetCheckSpec(e.sourced.Intern(sp))
}

// viewKey is the key of a backend's check in the shared store's
// observations: the check without this instance's source address, so the
// views of instances that probe from different addresses meet.
func viewKey(t healthcheck.Target) string { return t.ViewKey() }

package sites

import (
	"net/netip"
	"slices"
	"sort"

	"github.com/hadns/hadns/internal/fileerr"
)

// Config is one `site` line of the Corefile.
type Config struct {
	Name     string
	Networks []netip.Prefix
	Fallback []string
	Geo      Geo              // where the site is, for clients no network matches
	At       fileerr.Position // where the line is, for errors
}

// Order is the order of sites a client of one site gets: its own site,
// then its fallbacks, then every other site in the default order, so that no
// healthy backend is ever out of reach.
type Order struct {
	Site  string   // the client's site; "" for clients no network matches
	Sites []string // every site, in the order answers try them
}

// Table maps client addresses to sites and sites to their orders.
// Lookups mask the address once per distinct prefix length, longest first,
// and probe a map: no allocation, no lock, a handful of map reads.
type Table struct {
	names  []string
	orders []Order // one per site, then the default order last
	// byLen[i] holds the networks of prefix length lens[i]; lens is sorted
	// longest first, v4 and v6 apart.
	v4, v6 []prefixBucket
	// v4Scope and v6Scope are the ECS scope of an address no network
	// matches: the longest network length of its family (-1: none).
	v4Scope, v6Scope int
	// geo places clients no network matches by their location (geo.go).
	geo geoTable
}

type prefixBucket struct {
	bits int
	nets map[netip.Prefix]siteNet // masked network
}

// siteNet is a site network's entry in the table.
type siteNet struct {
	site int // index of the site
	// scope is the ECS scope of answers to its clients: the longest length
	// among it and the networks nested in it. A client in 10.0.0.0/8 gets
	// scope /16 when 10.1.0.0/16 belongs to another site, so a resolver
	// never reuses its answer for the nested site's clients.
	scope int
}

// Orders returns one order per site, in the order of the site lines, then
// the default order last: Match and Default return indexes into it.
func (t *Table) Orders() []Order { return t.orders }

// Default is the order index for clients that no network matches.
func (t *Table) Default() int { return len(t.orders) - 1 }

// New builds the table from the Corefile's sites, or, when none are
// configured, from the sites that backends name (in order of first mention),
// so a single-site or site-less setup needs no site lines at all.
func New(cfg []Config, defaultOrder []string, defaultOrderAt fileerr.Position, backendSites []string) (*Table, error) {
	if len(cfg) == 0 {
		for _, s := range backendSites {
			if !slices.ContainsFunc(cfg, func(c Config) bool { return c.Name == s }) {
				cfg = append(cfg, Config{Name: s})
			}
		}
	}
	// Every problem is collected, so `hadns check` reports them all.
	var errs fileerr.ErrorList
	t := &Table{}
	idx := map[string]int{}
	for i, s := range cfg {
		if _, dup := idx[s.Name]; dup {
			errs = append(errs, s.At.Errorf("site %q is defined twice", s.Name))
			continue
		}
		idx[s.Name] = i
		t.names = append(t.names, s.Name)
	}
	for _, s := range backendSites {
		if _, ok := idx[s]; !ok {
			errs = append(errs, fileerr.Position{}.Errorf("a backend names site %q, which no site line defines", s))
		}
	}
	if len(defaultOrder) == 0 {
		defaultOrder = t.names
	}
	for _, s := range defaultOrder {
		if _, ok := idx[s]; !ok {
			errs = append(errs, defaultOrderAt.Errorf("default order names unknown site %q", s))
		}
	}
	full := func(first string, then []string) []string {
		var o []string
		add := func(s string) {
			if s != "" && !slices.Contains(o, s) {
				o = append(o, s)
			}
		}
		add(first)
		for _, s := range then {
			add(s)
		}
		for _, s := range defaultOrder {
			add(s)
		}
		for _, s := range t.names {
			add(s)
		}
		return o
	}
	buckets := map[int]map[netip.Prefix]siteNet{}
	for i, s := range cfg {
		for _, f := range s.Fallback {
			if _, ok := idx[f]; !ok {
				errs = append(errs, s.At.Errorf("site %s: fallback names unknown site %q", s.Name, f))
			}
			if f == s.Name {
				errs = append(errs, s.At.Errorf("site %s: a site cannot fall back to itself", s.Name))
			}
		}
		t.orders = append(t.orders, Order{Site: s.Name, Sites: full(s.Name, s.Fallback)})
		for _, n := range s.Networks {
			n = n.Masked()
			key := n.Bits()
			if n.Addr().Is6() {
				key = -key - 1 // keep v6 lengths apart from v4 ones
			}
			if buckets[key] == nil {
				buckets[key] = map[netip.Prefix]siteNet{}
			}
			if other, dup := buckets[key][n]; dup {
				errs = append(errs, s.At.Errorf("network %s is in both site %s and site %s", n, cfg[other.site].Name, s.Name))
				continue
			}
			buckets[key][n] = siteNet{site: i, scope: n.Bits()}
		}
	}
	geo, geoErrs := newGeo(cfg)
	errs = append(errs, geoErrs...)
	if len(errs) > 0 {
		return nil, errs
	}
	t.geo = geo
	t.orders = append(t.orders, Order{Sites: full("", nil)})
	for key, nets := range buckets {
		if key >= 0 {
			t.v4 = append(t.v4, prefixBucket{bits: key, nets: nets})
		} else {
			t.v6 = append(t.v6, prefixBucket{bits: -key - 1, nets: nets})
		}
	}
	sort.Slice(t.v4, func(i, j int) bool { return t.v4[i].bits > t.v4[j].bits })
	sort.Slice(t.v6, func(i, j int) bool { return t.v6[i].bits > t.v6[j].bits })
	t.v4Scope, t.v6Scope = nestScopes(t.v4), nestScopes(t.v6)
	return t, nil
}

// nestScopes raises every network's scope to the longest network nested in
// it, and returns the family's longest network length (-1 for none): the
// scope of clients no network matches.
func nestScopes(buckets []prefixBucket) int {
	if len(buckets) == 0 {
		return -1
	}
	for _, inner := range buckets { // longest first
		for n := range inner.nets {
			for _, outer := range buckets {
				if outer.bits >= inner.bits {
					continue
				}
				p, _ := n.Addr().Prefix(outer.bits)
				if e, ok := outer.nets[p]; ok && e.scope < inner.bits {
					e.scope = inner.bits
					outer.nets[p] = e
				}
			}
		}
	}
	return buckets[0].bits
}

// Match returns the order index for a client address by longest prefix
// match, and the ECS scope of the answer: a prefix length such that every
// address sharing that many leading bits with a gets the same order, or -1
// when no network of a's family is configured (any scope holds). An
// IPv4-mapped IPv6 address matches IPv4 networks, and its scope is counted
// in IPv6 bits (96 more): it is the scope of an IPv6 client subnet.
func (t *Table) Match(a netip.Addr) (int, int) {
	mapped := 0
	if a.Is4In6() {
		a, mapped = a.Unmap(), 96
	}
	buckets, scope := t.v4, t.v4Scope
	if a.Is6() {
		buckets, scope = t.v6, t.v6Scope
	}
	for _, b := range buckets {
		p, err := a.Prefix(b.bits)
		if err != nil {
			continue
		}
		if e, ok := b.nets[p]; ok {
			return e.site, e.scope + mapped
		}
	}
	if scope < 0 {
		return t.Default(), -1
	}
	// No network holds a, and none is longer than scope: each either holds
	// all of a's network of that length (and so a) or none of it, so every
	// address there gets the default order too.
	return t.Default(), scope + mapped
}

package sites

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/hadns/hadns/internal/fileerr"
)

func TestSiteTable(t *testing.T) {
	st, err := New([]Config{
		{Name: "east", Networks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}, Fallback: []string{"west"}},
		{Name: "west", Networks: []netip.Prefix{netip.MustParsePrefix("10.2.0.0/16")}},
		{Name: "lab", Networks: []netip.Prefix{netip.MustParsePrefix("10.2.3.4/32")}},
	}, []string{"west", "east"}, fileerr.Position{}, []string{"east"})
	if err != nil {
		t.Fatal(err)
	}
	// The scope is the longest network nested in the matched one: every
	// IPv4 network here holds the /32 of lab, so every IPv4 answer is
	// scoped /32.
	tests := []struct {
		addr string
		site string
		bits int
	}{
		{"10.1.1.1", "east", 32},
		{"10.2.1.1", "west", 32},
		{"10.2.3.4", "lab", 32},
		{"::ffff:10.2.3.4", "lab", 128}, // in IPv6 bits: it is the scope of an IPv6 ECS option
		{"2001:db8::5", "east", 32},
		{"192.0.2.1", "", 32},
		{"2001:db9::1", "", 32},
	}
	for _, tc := range tests {
		i, bits := st.Match(netip.MustParseAddr(tc.addr))
		if st.orders[i].Site != tc.site || bits != tc.bits {
			t.Errorf("%s: site %q /%d, want %q /%d", tc.addr, st.orders[i].Site, bits, tc.site, tc.bits)
		}
	}
	// Without nesting, the scope is the matched network's length, and for
	// an unmatched client the family's longest length.
	flat, err := New([]Config{
		{Name: "east", Networks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
		{Name: "west", Networks: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}},
	}, nil, fileerr.Position{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		addr string
		site string
		bits int
	}{
		{"10.1.1.1", "east", 8},
		{"192.0.2.7", "west", 24},
		{"172.16.0.1", "", 24},
		{"::ffff:172.16.0.1", "", 120},
		{"2001:db8::1", "", -1}, // no IPv6 Networks: every IPv6 client gets the default
	} {
		i, bits := flat.Match(netip.MustParseAddr(tc.addr))
		if flat.orders[i].Site != tc.site || bits != tc.bits {
			t.Errorf("flat %s: site %q /%d, want %q /%d", tc.addr, flat.orders[i].Site, bits, tc.site, tc.bits)
		}
	}
	if o := st.orders[0].Sites; !slices.Equal(o, []string{"east", "west", "lab"}) {
		t.Errorf("east order %v: own, fallbacks, then the default order", o)
	}
	if o := st.orders[st.Default()].Sites; !slices.Equal(o, []string{"west", "east", "lab"}) {
		t.Errorf("default order %v", o)
	}
	for _, bad := range []struct {
		sites []Config
		want  string
	}{
		{[]Config{{Name: "a"}, {Name: "a"}}, "defined twice"},
		{[]Config{{Name: "a", Fallback: []string{"b"}}}, "unknown site"},
		{[]Config{{Name: "a", Fallback: []string{"a"}}}, "itself"},
		{[]Config{{Name: "a", Networks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, {Name: "b", Networks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}, "in both"},
	} {
		if _, err := New(bad.sites, nil, fileerr.Position{}, nil); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v: error %v, want %q", bad.sites, err, bad.want)
		}
	}
}

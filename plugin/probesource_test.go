package hadns

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coredns/caddy"

	"github.com/hadns/hadns/healthcheck"
)

func TestParseProbeSource(t *testing.T) {
	for _, tc := range []struct {
		args        string
		v4, v6, err string
	}{
		{args: "192.0.2.10", v4: "192.0.2.10"},
		{args: "2001:db8::10 192.0.2.10", v4: "192.0.2.10", v6: "2001:db8::10"},
		{args: "::ffff:192.0.2.10", v4: "192.0.2.10"},
		{args: "", err: "Wrong argument count"},
		{args: "192.0.2.10 192.0.2.11", err: "two addresses of one family"},
		{args: "0.0.0.0", err: `probe_source "0.0.0.0": want an IP address`},
		{args: "host.example", err: "want an IP address"},
		{args: "a b c", err: "Wrong argument count"},
	} {
		c := caddy.NewTestController("dns", "hadns {\n zone a.yaml\n probe_source "+tc.args+"\n}")
		c.ServerBlockKeys = []string{"example.test."}
		_, cfg, err := parse(c)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "Testfile:3") {
				t.Errorf("probe_source %s: error %v, want %q at line 3", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("probe_source %s: %v", tc.args, err)
			continue
		}
		ps := cfg.probeSource
		if got := ps.forAddr(mustAddr("192.0.2.1")); got != tc.v4 {
			t.Errorf("probe_source %s: IPv4 source %q, want %q", tc.args, got, tc.v4)
		}
		if got := ps.forAddr(mustAddr("2001:db8::1")); got != tc.v6 {
			t.Errorf("probe_source %s: IPv6 source %q, want %q", tc.args, got, tc.v6)
		}
	}
}

// TestProbeSourceApplied: the installed checks go out from the source of
// their backend's family, which is in their key (a changed source is a new
// probe loop) but not in the key the set compares views under.
func TestProbeSourceApplied(t *testing.T) {
	path := filepath.Join(t.TempDir(), "zone.yaml")
	if err := os.WriteFile(path, []byte(testZone), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := &config{origins: []string{"."}, files: []string{path}, probeSource: probeSources{v4: mustAddr("192.0.2.200")}}
	snap, err := load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(&Hadns{}, cfg, snap, newCheckerPool(healthcheck.Options{}))
	var v4, v6 int
	for _, tg := range e.targets {
		plain := *tg
		sp := *tg.Spec // shared: copied, never edited in place
		sp.Source = ""
		plain.Spec = &sp
		switch {
		case tg.Addr.Addr().Is4():
			v4++
			if tg.Spec.Source != "192.0.2.200" || !strings.Contains(tg.Key(), "source=192.0.2.200") {
				t.Errorf("%s: source %q, key %s", tg.Addr, tg.Spec.Source, tg.Key())
			}
		default:
			v6++
			if tg.Spec.Source != "" {
				t.Errorf("%s: IPv6 backend got source %q with no IPv6 probe_source", tg.Addr, tg.Spec.Source)
			}
		}
		if viewKey(*tg) != plain.Key() {
			t.Errorf("view key %s, want %s", viewKey(*tg), plain.Key())
		}
	}
	if v4 == 0 || v6 == 0 {
		t.Fatalf("test zone has %d IPv4 and %d IPv6 checks; want both", v4, v6)
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

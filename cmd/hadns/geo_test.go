package main

import (
	"slices"
	"testing"

	"github.com/coredns/coredns/core/dnsserver"
)

// Sites with a location read the client's place from the metadata that
// the geoip plugin sets: metadata (which collects it) and geoip must come
// before hadns in the directive order, and stay compiled in.
func TestGeoDirectivesBeforeHadns(t *testing.T) {
	d := dnsserver.Directives
	h := slices.Index(d, "hadns")
	for _, name := range []string{"metadata", "geoip"} {
		i := slices.Index(d, name)
		if i < 0 || i > h {
			t.Errorf("%s at %d, hadns at %d: %s must come before hadns", name, i, h, name)
		}
	}
}

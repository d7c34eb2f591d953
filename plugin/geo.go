package hadns

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/metadata"

	"github.com/hadns/hadns/internal/fileerr"
	"github.com/hadns/hadns/internal/sites"
)

// The labels CoreDNS's geoip plugin sets from its City database, through
// the metadata plugin, for the query's source address (or, with its
// edns-subnet option, the ECS address).
const (
	geoCountry   = "geoip/country/code"
	geoContinent = "geoip/continent/code"
	geoLatitude  = "geoip/latitude"
	geoLongitude = "geoip/longitude"
)

// geoSite places a client that no site network matched by its location,
// as the geoip plugin found it: the site that lists its country, else the
// one that lists its continent, else the site with coordinates nearest to
// it. It returns false (and the default order) when the request has no
// such metadata, the database does not know the address (the plugin then
// sets empty values), or no site matches. Only what some site line uses is
// read; nothing allocates.
func geoSite(ctx context.Context, t *sites.Table) (int, bool) {
	md := metadata.ValueFuncs(ctx) // the request's labels: one context lookup
	if md == nil {
		return t.Default(), false
	}
	if t.PlacesByCountry() {
		if i, ok := t.ByCountry(geoValue(md, geoCountry)); ok {
			return i, true
		}
	}
	if t.PlacesByContinent() {
		if i, ok := t.ByContinent(geoValue(md, geoContinent)); ok {
			return i, true
		}
	}
	if t.PlacesByCoordinates() {
		lat, lon := geoValue(md, geoLatitude), geoValue(md, geoLongitude)
		// Checked before parsing: ParseFloat allocates its error.
		if lat != "" && lon != "" {
			φ, err1 := strconv.ParseFloat(lat, 64)
			λ, err2 := strconv.ParseFloat(lon, 64)
			if err1 == nil && err2 == nil {
				if i, ok := t.Nearest(φ, λ); ok {
					return i, true
				}
			}
		}
	}
	return t.Default(), false
}

// geoValue is a metadata label's value, "" when it is not set.
func geoValue(md map[string]metadata.Func, label string) string {
	if f := md[label]; f != nil {
		return f()
	}
	return ""
}

// geoScope is the ECS scope of an answer to a client that no site network
// holds, when sites have a location (whether GeoIP placed it or not). The
// geoip plugin publishes the location of the database network that holds
// the address but not that network's prefix length (its reader has it; no
// metadata label carries it), so hadns cannot tell how far the decision
// holds. It answers for the client's own source prefix: the geoip plugin
// (with edns-subnet) looks up the ECS address, which is masked to that
// prefix, so every client a resolver sends with the same prefix is placed
// the same, and the scope is never wider than what was looked up. (The
// table's scope alone would be wrong: a /24 that no site network holds may
// lie in a shorter unmatched range whose other /24s GeoIP puts elsewhere.)
// It is at least the site table's scope, so a resolver does not reuse the
// answer for a client that a longer site network holds.
func geoScope(tableBits, sourceBits int) int { return max(tableBits, sourceBits) }

// geoPlugins are the plugins a server block needs for sites with a
// location: metadata collects what geoip looks up.
var geoPlugins = []string{"metadata", "geoip"}

// geoSiteLine returns the first site line with a location, if any.
func geoSiteLine(cfg *config) (sites.Config, bool) {
	for _, s := range cfg.sites {
		if g := s.Geo; g.Coordinates || len(g.Countries) > 0 || len(g.Continents) > 0 {
			return s, true
		}
	}
	return sites.Config{}, false
}

// missingGeoPlugins is the error for a block whose sites have a location
// but which lacks plugins the placement needs (has tells whether the block
// has one); nil when it has them all or no site has a location.
func missingGeoPlugins(cfg *config, has func(string) bool) *fileerr.FileError {
	s, ok := geoSiteLine(cfg)
	if !ok {
		return nil
	}
	var missing []string
	for _, p := range geoPlugins {
		if !has(p) {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	e := s.At.Errorf("site %s has a location, but the server block has no %s plugin: add `metadata` and `geoip DATABASE { edns-subnet }`, or clients no network matches are never placed by it", s.Name, strings.Join(missing, " or "))
	return &e
}

// requireGeoPlugins fails the server block's start when its sites have a
// location and it lacks the metadata or geoip plugin. It runs at start-up,
// once every plugin of the block is set up: plugins set up after hadns
// would not be seen from setup.
func requireGeoPlugins(c *caddy.Controller, cfg *config) {
	if _, ok := geoSiteLine(cfg); !ok {
		return
	}
	conf := dnsserver.GetConfig(c)
	c.OnStartup(func() error {
		if e := missingGeoPlugins(cfg, func(p string) bool { return conf.Handler(p) != nil }); e != nil {
			return plugin.Error(pluginName, fmt.Errorf("%s", e.Error()))
		}
		return nil
	})
}

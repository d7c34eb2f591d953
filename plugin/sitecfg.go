package hadns

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/coredns/caddy"

	"github.com/hadns/hadns/internal/fileerr"
	"github.com/hadns/hadns/internal/sites"
)

// siteKeywords start the parts of a site line after its networks; each
// takes the words up to the next keyword.
var siteKeywords = []string{"fallback", "coordinates", "countries", "continents"}

// parseSite reads
//
//	site NAME [CIDR...] [coordinates LAT LON] [countries CC...] [continents CC...] [fallback SITE...]
//
// The parts after the networks come in any order, each at most once.
func parseSite(c *caddy.Controller) (sites.Config, error) {
	args := c.RemainingArgs()
	if len(args) == 0 {
		return sites.Config{}, c.ArgErr()
	}
	s := sites.Config{Name: args[0], At: fileerr.Position{File: c.File(), Line: c.Line()}}
	if !validSiteName(s.Name) {
		return s, c.Errf("site name %q: use letters, digits, - and _ (and not %s)", s.Name, strings.Join(siteKeywords, ", "))
	}
	parts := map[string][]string{}
	part := ""
	for _, a := range args[1:] {
		if slices.Contains(siteKeywords, a) {
			if _, dup := parts[a]; dup {
				return s, c.Errf("site %s: %s is given twice", s.Name, a)
			}
			part = a
			parts[a] = []string{}
			continue
		}
		if part != "" {
			parts[part] = append(parts[part], a)
			continue
		}
		p, err := netip.ParsePrefix(a)
		if err != nil {
			return s, c.Errf("site %s: %q is not a network like 192.0.2.0/24 or 2001:db8::/48", s.Name, a)
		}
		if p.Masked() != p {
			return s, c.Errf("site %s: network %s has host bits set (did you mean %s?)", s.Name, p, p.Masked())
		}
		s.Networks = append(s.Networks, p)
	}
	if f, ok := parts["fallback"]; ok {
		if len(f) == 0 {
			return s, c.Errf("site %s: fallback needs at least one site", s.Name)
		}
		s.Fallback = f
	}
	if xy, ok := parts["coordinates"]; ok {
		if len(xy) != 2 {
			return s, c.Errf("site %s: coordinates takes a latitude and a longitude in degrees, like 50.11 8.68", s.Name)
		}
		lat, err1 := strconv.ParseFloat(xy[0], 64)
		lon, err2 := strconv.ParseFloat(xy[1], 64)
		if err1 != nil || err2 != nil {
			return s, c.Errf("site %s: coordinates %s %s: not numbers of degrees like 50.11 8.68 (south and west are negative)", s.Name, xy[0], xy[1])
		}
		s.Geo.Coordinates, s.Geo.Lat, s.Geo.Lon = true, lat, lon
	}
	for _, kv := range []struct {
		key string
		dst *[]string
	}{{"countries", &s.Geo.Countries}, {"continents", &s.Geo.Continents}} {
		key, dst := kv.key, kv.dst
		codes, ok := parts[key]
		if !ok {
			continue
		}
		if len(codes) == 0 {
			return s, c.Errf("site %s: %s needs at least one code", s.Name, key)
		}
		for _, cc := range codes {
			*dst = append(*dst, strings.ToUpper(cc))
		}
	}
	return s, nil
}

func validSiteName(s string) bool {
	if s == "" || slices.Contains(siteKeywords, s) {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

package hadns

import (
	"slices"
	"strings"
	"testing"

	"github.com/coredns/caddy"
)

func TestParseSiteGeo(t *testing.T) {
	for _, c := range []struct {
		line      string
		shouldErr string
		check     func(t *testing.T, c *config)
	}{
		{"site fra 10.1.0.0/16 coordinates 50.11 8.68 countries de at continents eu fallback iad", "", func(t *testing.T, c *config) {
			s := c.sites[0]
			if len(s.Networks) != 1 || !s.Geo.Coordinates || s.Geo.Lat != 50.11 || s.Geo.Lon != 8.68 ||
				!slices.Equal(s.Geo.Countries, []string{"DE", "AT"}) || !slices.Equal(s.Geo.Continents, []string{"EU"}) ||
				!slices.Equal(s.Fallback, []string{"iad"}) {
				t.Errorf("site %+v", s)
			}
		}},
		// Any order; fallback need not be last.
		{"site iad fallback fra countries US coordinates 38.95 -77.45", "", func(t *testing.T, c *config) {
			s := c.sites[0]
			if !slices.Equal(s.Fallback, []string{"fra"}) || s.Geo.Lon != -77.45 || !slices.Equal(s.Geo.Countries, []string{"US"}) {
				t.Errorf("site %+v", s)
			}
		}},
		{"site a coordinates 50", "coordinates takes a latitude and a longitude", nil},
		{"site a coordinates north east", "not numbers of degrees", nil},
		{"site a countries", "countries needs at least one code", nil},
		{"site a continents fallback b", "continents needs at least one code", nil},
		{"site a countries DE countries AT", "countries is given twice", nil},
		{"site countries DE", "site name \"countries\"", nil},
	} {
		ctl := caddy.NewTestController("dns", "hadns {\n zone a.yaml\n "+c.line+"\n}")
		_, cfg, err := parse(ctl)
		if c.shouldErr == "" {
			if err != nil {
				t.Errorf("%s: %v", c.line, err)
				continue
			}
			c.check(t, cfg)
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.shouldErr) {
			t.Errorf("%s: error %v, want one with %q", c.line, err, c.shouldErr)
		} else if !strings.Contains(err.Error(), ":3 ") && !strings.Contains(err.Error(), ":3:") {
			t.Errorf("%s: error %v does not name line 3", c.line, err)
		}
	}
}

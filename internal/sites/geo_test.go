package sites

import (
	"math"
	"strings"
	"testing"

	"github.com/hadns/hadns/internal/fileerr"
)

// geoSites: three sites with coordinates, one of which also claims two
// countries, and one that serves a continent by list only.
func geoSites(t *testing.T) *Table {
	t.Helper()
	st, err := New([]Config{
		{Name: "fra", Geo: Geo{Coordinates: true, Lat: 50.11, Lon: 8.68, Countries: []string{"DE", "AT"}}},
		{Name: "iad", Geo: Geo{Coordinates: true, Lat: 38.95, Lon: -77.45}},
		{Name: "sin", Geo: Geo{Coordinates: true, Lat: 1.35, Lon: 103.99}},
		{Name: "gru", Geo: Geo{Continents: []string{"SA"}}},
	}, nil, fileerr.Position{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// place is the placement hadns does: country list, continent list, then
// nearest coordinates.
func place(st *Table, country, continent string, lat, lon float64) string {
	if i, ok := st.ByCountry(country); ok {
		return st.Orders()[i].Site
	}
	if i, ok := st.ByContinent(continent); ok {
		return st.Orders()[i].Site
	}
	if i, ok := st.Nearest(lat, lon); ok {
		return st.Orders()[i].Site
	}
	return ""
}

func TestGeoPlacement(t *testing.T) {
	st := geoSites(t)
	if !st.HasGeo() || !st.PlacesByCountry() || !st.PlacesByContinent() || !st.PlacesByCoordinates() {
		t.Fatal("a table with locations says it has none")
	}
	for _, c := range []struct {
		where              string
		country, continent string
		lat, lon           float64
		want               string
	}{
		{"Cambridge (the CoreDNS test database's network)", "GB", "EU", 52.2242, 0.1315, "fra"},
		{"Vienna: listed country", "AT", "EU", 48.21, 16.37, "fra"},
		{"Anchorage: nearest is Virginia", "US", "NA", 61.22, -149.9, "iad"},
		{"Tokyo: nearest is Singapore", "JP", "AS", 35.68, 139.69, "sin"},
		{"Sydney: nearest is Singapore", "AU", "OC", -33.87, 151.21, "sin"},
		{"Lima: continent listed for gru", "PE", "SA", -12.05, -77.04, "gru"},
		{"Nairobi: nearest is Frankfurt", "KE", "AF", -1.29, 36.82, "fra"},
		{"Honolulu across the date line: Virginia (7,800 km) before Singapore (10,900 km)", "US", "OC", 21.31, -157.86, "iad"},
		{"Auckland across the date line: Singapore", "NZ", "OC", -36.85, 174.76, "sin"},
		{"no location", "", "", math.NaN(), math.NaN(), ""},
	} {
		if got := place(st, c.country, c.continent, c.lat, c.lon); got != c.want {
			t.Errorf("%s: placed in %q, want %q", c.where, got, c.want)
		}
	}
	// The test's own claims about distances hold.
	if d1, d2 := Distance(21.31, -157.86, 38.95, -77.45), Distance(21.31, -157.86, 1.35, 103.99); !(d1 < d2) || math.Abs(d1-7800) > 200 || math.Abs(d2-10900) > 200 {
		t.Errorf("Honolulu: %v km to Virginia, %v km to Singapore", d1, d2)
	}
}

func TestGeoOff(t *testing.T) {
	st, err := New([]Config{{Name: "a"}, {Name: "b"}}, nil, fileerr.Position{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.HasGeo() {
		t.Fatal("sites without locations place clients by GeoIP")
	}
	if _, ok := st.Nearest(50, 8); ok {
		t.Fatal("Nearest without coordinates")
	}
}

func TestGeoErrors(t *testing.T) {
	at := func(l int) fileerr.Position { return fileerr.Position{File: "Corefile", Line: l} }
	_, err := New([]Config{
		{Name: "a", At: at(2), Geo: Geo{Countries: []string{"DE", "de", "DEU"}, Continents: []string{"EU", "XX"}}},
		{Name: "b", At: at(3), Geo: Geo{Countries: []string{"DE"}, Continents: []string{"EU"}, Coordinates: true, Lat: 91, Lon: 0}},
		{Name: "c", At: at(4), Geo: Geo{Coordinates: true, Lat: 0, Lon: -180.5}},
	}, nil, fileerr.Position{}, nil)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`Corefile:2: site a: "de" is not a country code`,
		`Corefile:2: site a: "DEU" is not a country code`,
		`Corefile:2: site a: "XX" is not a continent code`,
		`Corefile:3: site b: country DE is also in site a`,
		`Corefile:3: site b: continent EU is also in site a`,
		`Corefile:3: site b: latitude 91 is not between -90 and 90`,
		`Corefile:4: site c: longitude -180.5 is not between -180 and 180`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors\n%v\nlack %q", err, want)
		}
	}
}

package sites

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/hadns/hadns/internal/fileerr"
)

// Geo is where a site is, for clients that no site network matches: the
// countries and continents it serves and its coordinates. A client is
// placed by its country if a site lists it, else by its continent if a
// site lists that, else at the site nearest to it by great-circle distance.
type Geo struct {
	Countries   []string // ISO 3166-1 alpha-2 codes, upper case ("DE")
	Continents  []string // continent codes as GeoIP databases give them: AF AN AS EU NA OC SA
	Coordinates bool     // Lat and Lon are set
	Lat, Lon    float64  // degrees: latitude -90..90, longitude -180..180
}

// Continents are the continent codes of GeoIP databases (MaxMind's and
// DB-IP's): Africa, Antarctica, Asia, Europe, North America, Oceania,
// South America.
var Continents = []string{"AF", "AN", "AS", "EU", "NA", "OC", "SA"}

// ValidCountry reports whether cc looks like an ISO 3166-1 alpha-2 code:
// two ASCII letters, upper case.
func ValidCountry(cc string) bool {
	return len(cc) == 2 && cc[0] >= 'A' && cc[0] <= 'Z' && cc[1] >= 'A' && cc[1] <= 'Z'
}

// geoTable places clients by location. It is empty (and off) unless some
// site line has a location.
type geoTable struct {
	countries  map[string]int // country code → site index
	continents map[string]int // continent code → site index
	points     []point        // sites with coordinates, in site order
}

// point is a site's position as a unit vector: the nearest site is the one
// whose vector has the largest dot product with the client's, so a lookup
// costs three multiplications per site and no trigonometry.
type point struct {
	site    int
	x, y, z float64
}

func unit(lat, lon float64) (x, y, z float64) {
	sφ, cφ := math.Sincos(lat * math.Pi / 180)
	sλ, cλ := math.Sincos(lon * math.Pi / 180)
	return cφ * cλ, cφ * sλ, sφ
}

// newGeo builds the geo table of the site lines, with every problem.
func newGeo(cfg []Config) (geoTable, fileerr.ErrorList) {
	var g geoTable
	var errs fileerr.ErrorList
	for i, s := range cfg {
		for _, cc := range s.Geo.Countries {
			if !ValidCountry(cc) {
				errs = append(errs, s.At.Errorf("site %s: %q is not a country code like DE or US (ISO 3166-1 alpha-2)", s.Name, cc))
				continue
			}
			if g.countries == nil {
				g.countries = map[string]int{}
			}
			if other, dup := g.countries[cc]; dup {
				errs = append(errs, s.At.Errorf("site %s: country %s is also in site %s", s.Name, cc, cfg[other].Name))
				continue
			}
			g.countries[cc] = i
		}
		for _, cc := range s.Geo.Continents {
			if !slices.Contains(Continents, cc) {
				errs = append(errs, s.At.Errorf("site %s: %q is not a continent code (%s)", s.Name, cc, strings.Join(Continents, " ")))
				continue
			}
			if g.continents == nil {
				g.continents = map[string]int{}
			}
			if other, dup := g.continents[cc]; dup {
				errs = append(errs, s.At.Errorf("site %s: continent %s is also in site %s", s.Name, cc, cfg[other].Name))
				continue
			}
			g.continents[cc] = i
		}
		if s.Geo.Coordinates {
			if err := checkCoordinates(s.Geo.Lat, s.Geo.Lon); err != nil {
				errs = append(errs, s.At.Errorf("site %s: %v", s.Name, err))
				continue
			}
			x, y, z := unit(s.Geo.Lat, s.Geo.Lon)
			g.points = append(g.points, point{site: i, x: x, y: y, z: z})
		}
	}
	return g, errs
}

func checkCoordinates(lat, lon float64) error {
	if !(lat >= -90 && lat <= 90) {
		return fmt.Errorf("latitude %v is not between -90 and 90", lat)
	}
	if !(lon >= -180 && lon <= 180) {
		return fmt.Errorf("longitude %v is not between -180 and 180", lon)
	}
	return nil
}

// HasGeo reports whether any site has a location: only then is a client
// that no network matches placed by GeoIP.
func (t *Table) HasGeo() bool {
	return t.geo.countries != nil || t.geo.continents != nil || t.geo.points != nil
}

// PlacesByCountry reports whether a site lists countries.
func (t *Table) PlacesByCountry() bool { return t.geo.countries != nil }

// PlacesByContinent reports whether a site lists continents.
func (t *Table) PlacesByContinent() bool { return t.geo.continents != nil }

// PlacesByCoordinates reports whether a site has coordinates.
func (t *Table) PlacesByCoordinates() bool { return t.geo.points != nil }

// ByCountry returns the order index of the site that lists country cc.
func (t *Table) ByCountry(cc string) (int, bool) {
	i, ok := t.geo.countries[cc]
	return i, ok
}

// ByContinent returns the order index of the site that lists continent cc.
func (t *Table) ByContinent(cc string) (int, bool) {
	i, ok := t.geo.continents[cc]
	return i, ok
}

// Nearest returns the order index of the site with coordinates nearest to
// (lat, lon) by great-circle distance; on a tie, the earlier site line. It
// is false when no site has coordinates or the position is out of range.
func (t *Table) Nearest(lat, lon float64) (int, bool) {
	if len(t.geo.points) == 0 || !(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180) {
		return 0, false
	}
	x, y, z := unit(lat, lon)
	best, bestDot := 0, math.Inf(-1)
	for _, p := range t.geo.points {
		if d := p.x*x + p.y*y + p.z*z; d > bestDot {
			best, bestDot = p.site, d
		}
	}
	return best, true
}

// Distance is the great-circle distance in kilometres between two
// positions on a sphere of the Earth's mean radius (haversine): for logs
// and tests; placement compares unit vectors instead.
func Distance(lat1, lon1, lat2, lon2 float64) float64 {
	const r = 6371.0088
	φ1, φ2 := lat1*math.Pi/180, lat2*math.Pi/180
	dφ, dλ := φ2-φ1, (lon2-lon1)*math.Pi/180
	h := math.Sin(dφ/2)*math.Sin(dφ/2) + math.Cos(φ1)*math.Cos(φ2)*math.Sin(dλ/2)*math.Sin(dλ/2)
	return 2 * r * math.Asin(math.Sqrt(h))
}

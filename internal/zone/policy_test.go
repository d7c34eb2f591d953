package zone

import (
	"strings"
	"testing"
	"time"

	"github.com/hadns/hadns/internal/zone/zonetest"
)

func TestParseHealthPolicy(t *testing.T) {
	for in, want := range map[string]int{"": 0, "local": 0, "quorum 2": 2, " quorum  3 ": 3} {
		if got, err := parseHealthPolicy(in); err != nil || got != want {
			t.Errorf("%q: %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"quorum", "quorum 0", "quorum x", "majority", "local 2"} {
		if _, err := parseHealthPolicy(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	_, err := Parse("z.yaml", []byte(strings.Replace(zonetest.SelZone, "    ttl: 20\n", "    ttl: 20\n    health: quorum x\n", 1)), time.Unix(1, 0))
	if err == nil || !strings.Contains(err.Error(), "z.yaml:9:") || !strings.Contains(err.Error(), "quorum wants a number") {
		t.Errorf("bad health in a zone: %v", err)
	}
}

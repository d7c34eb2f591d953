package hadns

import (
	"testing"
	"time"

	"github.com/hadns/hadns/internal/adminapi"
	"github.com/hadns/hadns/internal/zone"
)

func TestSelectorMatches(t *testing.T) {
	s, _ := selService(t, nil) // api.example.test., port 80
	b := s.Backends()[0]       // 10.1.0.1:80, east
	tests := []struct {
		sel  adminapi.Selector
		want bool
	}{
		{adminapi.Selector{Backend: "10.1.0.1:80"}, true},
		{adminapi.Selector{Backend: "10.1.0.1"}, true}, // every port of the address
		{adminapi.Selector{Backend: "10.1.0.1:81"}, false},
		{adminapi.Selector{Backend: "api.example.test/10.1.0.1:80"}, true},
		{adminapi.Selector{Backend: "API.example.test./10.1.0.1:80"}, true},
		{adminapi.Selector{Backend: "www.example.test/10.1.0.1:80"}, false},
		{adminapi.Selector{Site: "east"}, true},
		{adminapi.Selector{Site: "west"}, false},
		{adminapi.Selector{Glob: "10.1.0.*"}, true},
		{adminapi.Selector{Glob: "10.2.*"}, false},
		{adminapi.Selector{Glob: "api.*/10.1.*"}, true},
		{adminapi.Selector{Glob: "www.*/*"}, false},
	}
	for _, tc := range tests {
		if got := matches(tc.sel, s.Name(), b); got != tc.want {
			t.Errorf("%s matches %s: %v, want %v", tc.sel, b.ID(), got, tc.want)
		}
	}
	for _, bad := range []adminapi.Selector{{}, {Backend: "a", Site: "b"}, {Glob: "[x"}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

func TestEffectiveOverride(t *testing.T) {
	s, _ := selService(t, nil)
	b := s.Backends()[0]
	now := time.Unix(1000, 0)
	list := []adminapi.Override{
		{ID: "1", Action: adminapi.ActionDrain, Site: "east", At: now.Add(-3 * time.Second)},
		{ID: "2", Action: adminapi.ActionUp, Backend: "10.1.0.1", At: now.Add(-5 * time.Second)},
		{ID: "3", Action: adminapi.ActionDown, Glob: "10.1.*", At: now.Add(-time.Second)},
		{ID: "4", Action: adminapi.ActionDown, Backend: "10.1.0.1:80", At: now.Add(-time.Second), Expires: now},
	}
	// The backend's own override beats a newer glob and site; an expired
	// one does not count.
	if o := effective(list, s.Name(), b, now); o == nil || o.ID != "2" {
		t.Fatalf("effective %+v, want id 2", o)
	}
	if got := fold(zone.Down, effective(list, s.Name(), b, now)); got != zone.Healthy {
		t.Fatalf("forced up folds to %v", got)
	}
	// Without it, the glob beats the site.
	if o := effective(list[:1:1], s.Name(), s.Backends()[1], now); o == nil || o.ID != "1" {
		t.Fatalf("site only: %+v", o)
	}
	if o := effective([]adminapi.Override{list[0], list[2]}, s.Name(), s.Backends()[1], now); o == nil || o.ID != "3" {
		t.Fatalf("glob over site: %+v", o)
	}
	if fold(zone.Suspect, nil) != zone.Suspect || fold(zone.Healthy, &list[0]) != zone.Drained || fold(zone.Healthy, &list[2]) != zone.Down {
		t.Fatal("fold")
	}
}

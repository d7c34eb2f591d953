package hadns

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hadns/hadns/healthcheck"
	"github.com/hadns/hadns/internal/adminapi"
)

func TestSelectorMatches(t *testing.T) {
	s, _ := selService(t, nil) // api.example.test., port 80
	b := s.backends[0]         // 10.1.0.1:80, east
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
		if got := matches(tc.sel, s.name, b); got != tc.want {
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
	b := s.backends[0]
	now := time.Unix(1000, 0)
	list := []adminapi.Override{
		{ID: "1", Action: adminapi.ActionDrain, Site: "east", At: now.Add(-3 * time.Second)},
		{ID: "2", Action: adminapi.ActionUp, Backend: "10.1.0.1", At: now.Add(-5 * time.Second)},
		{ID: "3", Action: adminapi.ActionDown, Glob: "10.1.*", At: now.Add(-time.Second)},
		{ID: "4", Action: adminapi.ActionDown, Backend: "10.1.0.1:80", At: now.Add(-time.Second), Expires: now},
	}
	// The backend's own override beats a newer glob and site; an expired
	// one does not count.
	if o := effective(list, s.name, b, now); o == nil || o.ID != "2" {
		t.Fatalf("effective %+v, want id 2", o)
	}
	if got := fold(Down, effective(list, s.name, b, now)); got != Healthy {
		t.Fatalf("forced up folds to %v", got)
	}
	// Without it, the glob beats the site.
	if o := effective(list[:1:1], s.name, s.backends[1], now); o == nil || o.ID != "1" {
		t.Fatalf("site only: %+v", o)
	}
	if o := effective([]adminapi.Override{list[0], list[2]}, s.name, s.backends[1], now); o == nil || o.ID != "3" {
		t.Fatalf("glob over site: %+v", o)
	}
	if fold(Suspect, nil) != Suspect || fold(Healthy, &list[0]) != Drained || fold(Healthy, &list[2]) != Down {
		t.Fatal("fold")
	}
}

func TestStateFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	clock := healthcheck.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))

	s := newOverrideStore(path, clock)
	o, _, err := s.set(adminapi.Override{Action: adminapi.ActionDrain, Backend: "10.1.0.1", Reason: "disk", By: "alice", Expires: clock.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.set(adminapi.Override{Action: adminapi.ActionDown, Site: "west"}); err != nil {
		t.Fatal(err)
	}
	// Same selector: replaced, not added.
	if _, rep, err := s.set(adminapi.Override{Action: adminapi.ActionDown, Backend: "10.1.0.1"}); err != nil || rep == nil || rep.ID != o.ID {
		t.Fatalf("replace: %v %v", rep, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("temporary files left beside the state file: %v", entries)
	}

	// A restart reads them back; IDs go on from the highest.
	s2 := newOverrideStore(path, clock)
	got := s2.all()
	if len(got) != 2 || got[0].Site != "west" || got[1].Action != adminapi.ActionDown || !got[1].At.Equal(clock.Now()) {
		t.Fatalf("reloaded %+v", got)
	}
	n, _, _ := s2.set(adminapi.Override{Action: adminapi.ActionUp, Glob: "10.*"})
	if n.ID != "4" {
		t.Fatalf("next id %s, want 4", n.ID)
	}
	if _, err := s2.clear(adminapi.Selector{Site: "west"}, adminapi.ActionDrain, ""); err != errNoMatch {
		t.Fatalf("undrain of a down override: %v, want no match", err)
	}
	if gone, err := s2.clear(adminapi.Selector{Site: "west"}, "", "bob"); err != nil || len(gone) != 1 {
		t.Fatalf("clear: %v %v", gone, err)
	}

	// A broken file: an error with file and line; the store starts empty,
	// and the bad file is moved aside, not lost, at the next change.
	bad := "{\n  \"overrides\": [\n    {\"id\": \"1\", \"action\": \"drain\",, }\n  ]\n}\n"
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadState(path); err == nil || !strings.Contains(err.Error(), path+":3: ") {
		t.Fatalf("parse error %v, want one at %s:3", err, path)
	}
	typed := "{\"overrides\": [\n {\"id\": 7}]}"
	os.WriteFile(path, []byte(typed), 0o644)
	if _, err := loadState(path); err == nil || !strings.Contains(err.Error(), path+":2: ") {
		t.Fatalf("type error %v, want one at %s:2", err, path)
	}
	os.WriteFile(path, []byte(`{"overrides": [{"id": "1", "action": "nap", "site": "x"}]}`), 0o644)
	if _, err := loadState(path); err == nil || !strings.Contains(err.Error(), `overrides[0]: action "nap"`) {
		t.Fatalf("bad action: %v", err)
	}
	os.WriteFile(path, []byte(bad), 0o644)
	s3 := newOverrideStore(path, clock)
	if len(s3.all()) != 0 || s3.loadErr == nil {
		t.Fatal("a broken state file should load nothing and be remembered")
	}
	if _, _, err := s3.set(adminapi.Override{Action: adminapi.ActionDrain, Site: "east"}); err != nil {
		t.Fatal(err)
	}
	if kept, err := os.ReadFile(path + ".bad"); err != nil || string(kept) != bad {
		t.Fatalf("broken file not kept as .bad: %q %v", kept, err)
	}
	if list, err := loadState(path); err != nil || len(list) != 1 {
		t.Fatalf("new state %v %v", list, err)
	}
}

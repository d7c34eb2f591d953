package ops

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hadns/hadns/healthcheck"
	"github.com/hadns/hadns/internal/adminapi"
)

// fixedClock is a clock that stays at t: these tests attach no listener,
// so no expiry timer runs.
type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

func (c fixedClock) NewTimer(d time.Duration) healthcheck.Timer { return timer{time.NewTimer(d)} }

type timer struct{ t *time.Timer }

func (w timer) C() <-chan time.Time   { return w.t.C }
func (w timer) Reset(d time.Duration) { w.t.Reset(d) }
func (w timer) Stop()                 { w.t.Stop() }

// testLog sends a store's log lines to the test's log.
type testLog struct{ t *testing.T }

func (l testLog) Infof(format string, args ...any)    { l.t.Logf("[INFO] "+format, args...) }
func (l testLog) Warningf(format string, args ...any) { l.t.Logf("[WARNING] "+format, args...) }
func (l testLog) Errorf(format string, args ...any)   { l.t.Logf("[ERROR] "+format, args...) }

func TestStateFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	clock := fixedClock{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}

	s := NewStore(path, clock, testLog{t})
	o, _, err := s.Set(adminapi.Override{Action: adminapi.ActionDrain, Backend: "10.1.0.1", Reason: "disk", By: "alice", Expires: clock.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Set(adminapi.Override{Action: adminapi.ActionDown, Site: "west"}); err != nil {
		t.Fatal(err)
	}
	// Same selector: replaced, not added.
	if _, rep, err := s.Set(adminapi.Override{Action: adminapi.ActionDown, Backend: "10.1.0.1"}); err != nil || rep == nil || rep.ID != o.ID {
		t.Fatalf("replace: %v %v", rep, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("temporary files left beside the state file: %v", entries)
	}

	// A restart reads them back; IDs go on from the highest.
	s2 := NewStore(path, clock, testLog{t})
	got := s2.All()
	if len(got) != 2 || got[0].Site != "west" || got[1].Action != adminapi.ActionDown || !got[1].At.Equal(clock.Now()) {
		t.Fatalf("reloaded %+v", got)
	}
	n, _, _ := s2.Set(adminapi.Override{Action: adminapi.ActionUp, Glob: "10.*"})
	if n.ID != "4" {
		t.Fatalf("next id %s, want 4", n.ID)
	}
	if _, err := s2.Clear(adminapi.Selector{Site: "west"}, adminapi.ActionDrain, ""); err != ErrNoMatch {
		t.Fatalf("undrain of a down override: %v, want no match", err)
	}
	if gone, err := s2.Clear(adminapi.Selector{Site: "west"}, "", "bob"); err != nil || len(gone) != 1 {
		t.Fatalf("clear: %v %v", gone, err)
	}

	// A broken file: an error with file and line; the store starts empty,
	// and the bad file is moved aside, not lost, at the next change.
	bad := "{\n  \"overrides\": [\n    {\"id\": \"1\", \"action\": \"drain\",, }\n  ]\n}\n"
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadState(path); err == nil || !strings.Contains(err.Error(), path+":3: ") {
		t.Fatalf("parse error %v, want one at %s:3", err, path)
	}
	typed := "{\"overrides\": [\n {\"id\": 7}]}"
	os.WriteFile(path, []byte(typed), 0o644)
	if _, err := LoadState(path); err == nil || !strings.Contains(err.Error(), path+":2: ") {
		t.Fatalf("type error %v, want one at %s:2", err, path)
	}
	os.WriteFile(path, []byte(`{"overrides": [{"id": "1", "action": "nap", "site": "x"}]}`), 0o644)
	if _, err := LoadState(path); err == nil || !strings.Contains(err.Error(), `overrides[0]: action "nap"`) {
		t.Fatalf("bad action: %v", err)
	}
	os.WriteFile(path, []byte(bad), 0o644)
	s3 := NewStore(path, clock, testLog{t})
	if len(s3.All()) != 0 || s3.loadErr == nil {
		t.Fatal("a broken state file should load nothing and be remembered")
	}
	if _, _, err := s3.Set(adminapi.Override{Action: adminapi.ActionDrain, Site: "east"}); err != nil {
		t.Fatal(err)
	}
	if kept, err := os.ReadFile(path + ".bad"); err != nil || string(kept) != bad {
		t.Fatalf("broken file not kept as .bad: %q %v", kept, err)
	}
	if list, err := LoadState(path); err != nil || len(list) != 1 {
		t.Fatalf("new state %v %v", list, err)
	}
}

// Temporary files of state writes a crash interrupted are removed when the
// store is first loaded; other files are left alone.
func TestStaleStateTempsRemoved(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state.json")
	for _, f := range []string{"state.json.tmp123", "state.json.tmp456", "other.json.tmp1", "state.json"} {
		text := "{\"overrides\": []}\n"
		if err := os.WriteFile(filepath.Join(dir, f), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	NewStore(state, fixedClock{time.Unix(0, 0)}, testLog{t})
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	var names []string
	for _, f := range left {
		names = append(names, filepath.Base(f))
	}
	if strings.Join(names, " ") != "other.json.tmp1 state.json" {
		t.Errorf("files left: %v, want other.json.tmp1 and state.json", names)
	}
}

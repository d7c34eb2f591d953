package hadns

import (
	"bytes"
	stdlog "log"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/hadns/hadns/healthcheck"
	"github.com/hadns/hadns/healthcheck/healthchecktest"
	"github.com/hadns/hadns/internal/zone"
)

// settleReload runs the two reload ticks a changed file needs to be
// applied: one that sees the change, one that sees it settled.
func settleReload(e *engine) bool {
	if e.reloadIfChanged() {
		return true // only a grace expiry applies on one tick
	}
	return e.reloadIfChanged()
}

const reloadZoneA = `origin: a.test.
soa: {mname: ns1, rname: h}
ns: [ns1]
records: |
  ns1 A 192.0.2.53
  www A 192.0.2.1
  mail A 192.0.2.25
`

// reloadRig is an engine over a zones folder, never started: the test
// drives the reload loop's ticks and the clock itself.
func reloadRig(t *testing.T, files map[string]string) (*engine, string, *healthchecktest.FakeClock) {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := &config{origins: []string{"."}, dirs: []string{dir}}
	snap, err := load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	clock := healthchecktest.NewFakeClock(time.Unix(1e9, 0))
	e := newEngine(&Hadns{}, cfg, snap, newCheckerPool(healthcheck.Options{Clock: clock}))
	t.Cleanup(func() { liveSeries.set(e, nil) })
	return e, dir, clock
}

func hasName(e *engine, origin, name string) bool {
	z := e.snap.zones[origin]
	if z == nil {
		return false
	}
	return z.Lookup(name, dns.TypeA, 0).Result == zone.Success
}

// A file written in two steps is not served half-written: a version is
// applied only once two consecutive ticks saw it unchanged.
func TestReloadWaitsForTheFileToSettle(t *testing.T) {
	e, dir, _ := reloadRig(t, map[string]string{"a.yaml": reloadZoneA})
	path := filepath.Join(dir, "a.yaml")
	full := reloadZoneA + "  new A 192.0.2.9\n"
	// The editor's first write: a valid prefix without mail and new.
	half := full[:strings.Index(full, "  mail")]
	if err := os.WriteFile(path, []byte(half), 0o644); err != nil {
		t.Fatal(err)
	}
	if e.reloadIfChanged() {
		t.Fatal("a file seen changed for the first time was applied at once")
	}
	if !hasName(e, "a.test.", "mail.a.test.") {
		t.Fatal("the half-written file is served: mail.a.test. is gone")
	}
	// The second write lands before the next tick.
	if err := os.WriteFile(path, []byte(full), 0o644); err != nil {
		t.Fatal(err)
	}
	if e.reloadIfChanged() {
		t.Fatal("a file that changed since the last tick was applied")
	}
	if !e.reloadIfChanged() {
		t.Fatal("a settled file was not applied")
	}
	if !hasName(e, "a.test.", "new.a.test.") || !hasName(e, "a.test.", "mail.a.test.") {
		t.Fatal("the settled file is not what serves")
	}
	// Nothing changed: nothing is read (the stats match) or applied.
	for range 3 {
		if e.reloadIfChanged() {
			t.Fatal("an unchanged file was reloaded")
		}
	}
}

// A tick whose files have the stats of the version last settled reads
// nothing; a touched file (new mtime, same content) is not reloaded.
func TestReloadChecksStatsBeforeReading(t *testing.T) {
	e, dir, _ := reloadRig(t, map[string]string{"a.yaml": reloadZoneA})
	path := filepath.Join(dir, "a.yaml")
	reads := 0
	readZoneFile = func(p string) ([]byte, error) { reads++; return os.ReadFile(p) }
	defer func() { readZoneFile = os.ReadFile }()
	for range 3 {
		if e.reloadIfChanged() {
			t.Fatal("an unchanged file was reloaded")
		}
	}
	if reads != 0 {
		t.Fatalf("three ticks with unchanged stats read the files %d times", reads)
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	if settleReload(e) {
		t.Fatal("a touched file with the same content was reloaded")
	}
}

// A zone whose file leaves a zones folder keeps being served for dirGrace,
// then is dropped; a file that brings its origin back ends the grace.
func TestZonesFolderFileGoneKeepsZoneForGrace(t *testing.T) {
	b := strings.ReplaceAll(reloadZoneA, "a.test.", "b.test.")
	e, dir, clock := reloadRig(t, map[string]string{"a.yaml": reloadZoneA, "b.yaml": b})
	if err := os.Rename(filepath.Join(dir, "b.yaml"), filepath.Join(dir, "b.yaml.old")); err != nil {
		t.Fatal(err)
	}
	settleReload(e)
	if !hasName(e, "b.test.", "www.b.test.") {
		t.Fatal("the zone of a file renamed away was dropped at once")
	}
	clock.Advance(dirGrace - time.Second)
	if e.reloadIfChanged() || !hasName(e, "b.test.", "www.b.test.") {
		t.Fatal("the zone was dropped before its grace ended")
	}
	clock.Advance(time.Second)
	if !e.reloadIfChanged() {
		t.Fatal("the grace ended and nothing was reloaded")
	}
	if e.snap.zones["b.test."] != nil {
		t.Fatal("the zone outlived its grace")
	}
	if !hasName(e, "a.test.", "www.a.test.") {
		t.Fatal("the other zone was lost")
	}
	// Back under another name: served again.
	if err := os.Rename(filepath.Join(dir, "b.yaml.old"), filepath.Join(dir, "b2.yaml")); err != nil {
		t.Fatal(err)
	}
	if !settleReload(e) || !hasName(e, "b.test.", "www.b.test.") {
		t.Fatal("the zone did not come back with its file")
	}
}

// A named zone file that goes missing keeps its zone and is logged once,
// not on every tick.
func TestMissingZoneFileLoggedOnce(t *testing.T) {
	e, dir, _ := reloadRig(t, map[string]string{"a.yaml": reloadZoneA})
	path := filepath.Join(dir, "a.yaml")
	e.cfg.files, e.cfg.dirs = []string{path}, nil
	e.watch.settled.stats, _ = statFiles(e.cfg)
	var logged bytes.Buffer
	stdlog.SetOutput(&logged)
	defer stdlog.SetOutput(os.Stderr)
	os.Remove(path)
	for range 5 {
		e.reloadIfChanged()
	}
	if n := strings.Count(logged.String(), "a.yaml is missing"); n != 1 {
		t.Errorf("five ticks logged the missing file %d times, want once:\n%s", n, logged.String())
	}
	if n := strings.Count(logged.String(), "reload failed"); n > 1 {
		t.Errorf("five ticks logged %d failed reloads, want at most one:\n%s", n, logged.String())
	}
	if !hasName(e, "a.test.", "www.a.test.") {
		t.Fatal("a missing file dropped its zone")
	}
	if len(e.watch.missing) != 1 || e.watch.pending != nil {
		t.Fatalf("missing %v pending %v after five ticks: want the file noted once, and settled", e.watch.missing, e.watch.pending)
	}
	if err := os.WriteFile(path, []byte(reloadZoneA), 0o644); err != nil {
		t.Fatal(err)
	}
	settleReload(e)
	if len(e.watch.missing) != 0 {
		t.Fatal("the file is back but still noted missing")
	}
}

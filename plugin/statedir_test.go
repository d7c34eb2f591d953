package hadns

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coredns/caddy"

	"github.com/hadns/hadns/healthcheck"
)

// A state file whose folder is missing (or is not a folder, or not
// writable) stops start-up with the Corefile line, rather than failing the
// first override with a 500.
func TestStateDirCheckedAtSetup(t *testing.T) {
	dir := t.TempDir()
	zone := filepath.Join(dir, "ok.yaml")
	if err := os.WriteFile(zone, []byte(testZone), 0o644); err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(dir, "plain")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		state, want string
	}{
		{filepath.Join(dir, "missing", "state.json"), "no such file or directory"},
		{filepath.Join(notDir, "state.json"), "is not a folder"},
	} {
		c := caddy.NewTestController("dns", "hadns {\n zone "+zone+"\n state "+tc.state+"\n}")
		c.ServerBlockKeys = []string{"example.test."}
		err := setup(c)
		if err == nil || !strings.Contains(err.Error(), ":3") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("state %s: %v; want an error at line 3 with %q", tc.state, err, tc.want)
		}
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
	newOverrideStore(state, healthcheck.SystemClock{})
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	var names []string
	for _, f := range left {
		names = append(names, filepath.Base(f))
	}
	if strings.Join(names, " ") != "other.json.tmp1 state.json" {
		t.Errorf("files left: %v, want other.json.tmp1 and state.json", names)
	}
}

package hadns

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coredns/caddy"
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

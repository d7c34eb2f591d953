package hadns

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coredns/caddy"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name      string
		input     string
		shouldErr string // "" when the input is valid
		check     func(t *testing.T, h *Hadns, c *config)
	}{
		{"files and dirs", "hadns example.test {\n zone a.yaml\n zones zones/\n}", "", func(t *testing.T, h *Hadns, c *config) {
			if len(c.files) != 1 || len(c.dirs) != 1 || c.reload != defaultReload || c.startupTimeout != defaultStartupTimeout {
				t.Errorf("config %+v", c)
			}
			if len(c.origins) != 1 || c.origins[0] != "example.test." {
				t.Errorf("origins %v", c.origins)
			}
		}},
		{"sites", "hadns {\n zone a.yaml\n site east 192.0.2.0/24 2001:db8::/48 fallback west\n site west\n default_order west east\n reload 0s\n startup_timeout 1s\n fallthrough\n}", "", func(t *testing.T, h *Hadns, c *config) {
			if len(c.sites) != 2 || len(c.sites[0].networks) != 2 || c.sites[0].fallback[0] != "west" || len(c.sites[1].networks) != 0 {
				t.Errorf("sites %+v", c.sites)
			}
			if c.reload != 0 || c.defaultOrder[0] != "west" || !h.Fall.Through("x.") {
				t.Errorf("config %+v", c)
			}
		}},
		{"no files", "hadns {\n}", "no zone files", nil},
		{"unknown property", "hadns {\n zone a.yaml\n colour blue\n}", `unknown property "colour"`, nil},
		{"zone args", "hadns {\n zone a b\n}", "Wrong argument count", nil},
		{"bad duration", "hadns {\n zone a\n reload soon\n}", "not a duration", nil},
		{"bad network", "hadns {\n zone a\n site east 10.0.0.0/33\n}", "is not a network", nil},
		{"host bits", "hadns {\n zone a\n site east 10.0.0.1/8\n}", "did you mean 10.0.0.0/8", nil},
		{"empty fallback", "hadns {\n zone a\n site east fallback\n}", "fallback needs at least one site", nil},
		{"bad site name", "hadns {\n zone a\n site e.st\n}", "site name", nil},
		{"twice", "hadns {\n zone a\n}\nhadns {\n zone b\n}", "this plugin", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := caddy.NewTestController("dns", tc.input)
			c.ServerBlockKeys = []string{"example.test."}
			h, cfg, err := parse(c)
			if tc.shouldErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.shouldErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.shouldErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, h, cfg)
		})
	}
}

func TestSetupLoadsZones(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ok := write("ok.yaml", testZone)
	other := write("other.yaml", strings.Replace(testZone, "origin: example.test.", "origin: example.org.", 1))
	bad := write("bad.yaml", "origin: bad.test.\nsoa: {mname: a, rname: b}\nns: [a.example.org.]\nservices:\n  - name: x\n")

	c := caddy.NewTestController("dns", "hadns {\n zone "+ok+"\n}")
	c.ServerBlockKeys = []string{"example.test."}
	if err := setup(c); err != nil {
		t.Fatalf("setup with a good zone: %v", err)
	}

	c = caddy.NewTestController("dns", "hadns {\n zone "+ok+"\n zone "+bad+"\n}")
	c.ServerBlockKeys = []string{"."}
	err := setup(c)
	if err == nil || !strings.Contains(err.Error(), "bad.yaml:5: service x.bad.test. has no backends") {
		t.Fatalf("setup with a bad zone: %v", err)
	}

	c = caddy.NewTestController("dns", "hadns {\n zone "+other+"\n}")
	c.ServerBlockKeys = []string{"example.test."}
	if err := setup(c); err == nil || !strings.Contains(err.Error(), "not inside this server block") {
		t.Fatalf("zone outside the server block: %v", err)
	}

	c = caddy.NewTestController("dns", "hadns {\n zone "+ok+"\n site west\n}")
	c.ServerBlockKeys = []string{"."}
	if err := setup(c); err == nil || !strings.Contains(err.Error(), `site "east"`) {
		t.Fatalf("backend in an undefined site: %v", err)
	}

	c = caddy.NewTestController("dns", "hadns {\n zones "+filepath.Join(dir, "none")+"\n}")
	c.ServerBlockKeys = []string{"."}
	if err := setup(c); err == nil || !strings.Contains(err.Error(), "no *.yaml") {
		t.Fatalf("empty zones dir: %v", err)
	}
}

package hadns

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/coredns/caddy"

	"github.com/hadns/hadns/internal/admin"
	"github.com/hadns/hadns/internal/admin/admintest"
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
			if len(c.sites) != 2 || len(c.sites[0].Networks) != 2 || c.sites[0].Fallback[0] != "west" || len(c.sites[1].Networks) != 0 {
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
		{"admin off by default", "hadns {\n zone a\n}", "", func(t *testing.T, h *Hadns, c *config) {
			if c.admin != nil || c.state != "" {
				t.Errorf("admin %+v state %q", c.admin, c.state)
			}
		}},
		{"admin loopback", "hadns {\n zone a\n admin 127.0.0.1:8053\n state /var/lib/hadns/state.json\n}", "", func(t *testing.T, h *Hadns, c *config) {
			if c.admin == nil || c.admin.Addr != "127.0.0.1:8053" || c.admin.Token != "" || c.state != "/var/lib/hadns/state.json" {
				t.Errorf("admin %+v state %q", c.admin, c.state)
			}
		}},
		{"admin localhost v6", "hadns {\n zone a\n admin [::1]:8053\n}", "", func(t *testing.T, h *Hadns, c *config) {}},
		{"admin token file", "hadns {\n zone a\n admin localhost:8053\n admin_token_file TOKENFILE\n}", "", func(t *testing.T, h *Hadns, c *config) {
			if c.admin.Token != "tok-from-file" {
				t.Errorf("token %q", c.admin.Token)
			}
		}},
		{"admin insecure", "hadns {\n zone a\n admin 0.0.0.0:8053\n admin_insecure\n}", "", func(t *testing.T, h *Hadns, c *config) {
			if !c.admin.Insecure {
				t.Errorf("admin %+v", c.admin)
			}
		}},
		{"admin tls", "hadns {\n zone a\n admin 192.0.2.1:8053\n admin_tls CERTFILE KEYFILE\n}", "", func(t *testing.T, h *Hadns, c *config) {
			if c.admin.Cert == nil {
				t.Errorf("admin %+v", c.admin)
			}
		}},
		{"admin not loopback", "hadns {\n zone a\n admin 192.0.2.1:8053\n}", "Testfile:3 - Error during parsing: admin 192.0.2.1:8053 is not a loopback address", nil},
		{"admin all addresses", "hadns {\n zone a\n admin :8053\n}", "is not a loopback address", nil},
		{"admin no port", "hadns {\n zone a\n admin 127.0.0.1\n}", "want HOST:PORT", nil},
		{"admin twice", "hadns {\n zone a\n admin 127.0.0.1:1\n admin 127.0.0.1:2\n}", "admin given twice", nil},
		{"admin hosts", "hadns {\n zone a\n admin 127.0.0.1:8053\n admin_hosts Hadns.Example.NET. ops.example.net\n}", "", func(t *testing.T, h *Hadns, c *config) {
			if !slices.Equal(c.admin.Hosts, []string{"hadns.example.net", "ops.example.net"}) {
				t.Errorf("admin hosts %q", c.admin.Hosts)
			}
		}},
		{"admin hosts address", "hadns {\n zone a\n admin 127.0.0.1:8053\n admin_hosts 192.0.2.1\n}", "Testfile:4 - Error during parsing: admin_hosts \"192.0.2.1\": want a host name", nil},
		{"admin hosts without admin", "hadns {\n zone a\n admin_hosts a.example\n}", "admin_hosts needs an `admin ADDR` line", nil},
		{"admin option without admin", "hadns {\n zone a\n admin_insecure\n}", "Testfile:3 - Error during parsing: admin_insecure needs an `admin ADDR` line", nil},
		{"missing token file", "hadns {\n zone a\n admin 127.0.0.1:1\n admin_token_file /nonexistent/token\n}", "admin_token_file: open /nonexistent/token", nil},
		{"empty token file", "hadns {\n zone a\n admin 127.0.0.1:1\n admin_token_file EMPTYFILE\n}", "is empty", nil},
		{"bad tls", "hadns {\n zone a\n admin 127.0.0.1:1\n admin_tls /nonexistent/c /nonexistent/k\n}", "admin_tls:", nil},
		{"tls and insecure", "hadns {\n zone a\n admin 192.0.2.1:1\n admin_tls CERTFILE KEYFILE\n admin_insecure\n}", "contradict", nil},
		{"state args", "hadns {\n zone a\n state\n}", "Wrong argument count", nil},
	}
	t.Setenv(admin.TokenEnv, "")
	files := testFiles(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := caddy.NewTestController("dns", files.Replace(tc.input))
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

func TestParseTokenFromEnv(t *testing.T) {
	t.Setenv(admin.TokenEnv, " from-env\n")
	c := caddy.NewTestController("dns", "hadns {\n zone a\n admin 127.0.0.1:1\n}")
	_, cfg, err := parse(c)
	if err != nil || cfg.admin.Token != "from-env" {
		t.Fatalf("token %q, err %v", cfg.admin.Token, err)
	}
	c = caddy.NewTestController("dns", "hadns {\n zone a\n admin 127.0.0.1:1\n admin_token_file "+testFilePath(t, "tok")+"\n}")
	if _, cfg, err = parse(c); err != nil || cfg.admin.Token != "tok" {
		t.Fatalf("the file wins over the environment: token %q, err %v", cfg.admin.Token, err)
	}
}

func testFilePath(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
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

// testFiles writes a token file, an empty file and a self-signed key pair,
// and returns a replacer of their placeholders in Corefile text.
func testFiles(t *testing.T) *strings.Replacer {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	certPEM, keyPEM := admintest.KeyPair(t)
	return strings.NewReplacer(
		"TOKENFILE", write("token", []byte("tok-from-file\n")),
		"EMPTYFILE", write("empty", []byte(" \n")),
		"CERTFILE", write("cert.pem", certPEM),
		"KEYFILE", write("key.pem", keyPEM),
	)
}

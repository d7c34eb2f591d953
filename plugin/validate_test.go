package hadns

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	_ "github.com/coredns/coredns/plugin/root" // the one other directive ValidateCorefile runs

	"github.com/hadns/hadns/internal/fileerr"
)

// useDirective puts hadns in the dns server type's directive list, as the
// hadns binary's main does, so ValidateCorefile sees it as a known directive.
func useDirective(t *testing.T) {
	t.Helper()
	if slices.Contains(dnsserver.Directives, pluginName) {
		return
	}
	if err := dnsserver.SetDirectives(append(slices.Clone(dnsserver.Directives), pluginName)); err != nil {
		t.Fatal(err)
	}
}

// writeFiles writes name → content under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// A Corefile and zone files seeded with problems; every one must be
// reported at its file and line. The line numbers are the seeds'.
const (
	seededCorefile = `example.test:1053 {
    bogus_plugin on
    root {{ROOT}}
    hadns {
        zone bad.yaml
        zone missing.yaml
        colour blue
        reload soon
        site east 10.0.0.0/33
        site west 10.2.0.0/16 fallback nowhere
        default_order west mars
        tuning {
            listen 127.0.0.1:1
        }
        zones empty
        site west 10.3.0.0/16
    }
    hadns {
        zone bad.yaml
    }
}
other.test:1053 {
    hadns {
        zone {{ROOT}}/badsite.yaml
        site west
    }
}
`
	seededZone = `origin: example.test.
soa: {mname: ns1.example.test., rname: hostmaster.example.test.}
ns: [ns1]
colour: blue
records: |
  ns1 A 127.0.0.1
  www A 300.1.1.1
services:
  - name: api
    ttl: 10
    degraded_ttl: 20
    port: 8080
    failover_budget: 5s
    backends:
      - {address: 10.2.0.1, site: west}
      - {address: 10.2.0.x, site: west}
`
	// A zone file with no problem of its own whose backend names a site
	// the Corefile does not define.
	seededSiteZone = `origin: other.test.
soa: {mname: ns1.other.test., rname: hostmaster.other.test.}
ns: [ns1]
records: |
  ns1 A 127.0.0.1
services:
  - name: api
    port: 80
    backends:
      - {address: 10.2.0.1, site: west}
      - {address: 10.2.0.2, site: north}
`
)

func TestValidateReportsEveryProblem(t *testing.T) {
	useDirective(t)
	dir := t.TempDir()
	corefile := filepath.Join(dir, "Corefile")
	writeFiles(t, dir, map[string]string{
		"Corefile":             strings.ReplaceAll(seededCorefile, "{{ROOT}}", dir),
		"bad.yaml":             seededZone,
		"badsite.yaml":         seededSiteZone,
		"empty/not-a-zone.txt": "",
	})

	r, err := ValidateCorefile(corefile)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	want := []struct {
		file string
		line int
		msg  string
	}{
		{corefile, 2, "Unknown directive 'bogus_plugin'"},
		{corefile, 7, `unknown property "colour"`},
		{corefile, 8, `reload: "soon" is not a duration`},
		{corefile, 9, `site east: "10.0.0.0/33" is not a network`},
		{corefile, 10, `site west: fallback names unknown site "nowhere"`},
		{corefile, 11, `default order names unknown site "mars"`},
		{corefile, 12, `unknown property "tuning"`},
		{corefile, 16, `site "west" is defined twice`},
		{corefile, 18, "only be used once per Server Block"},
		{filepath.Join(dir, "missing.yaml"), 0, "no such file"},
		{filepath.Join(dir, "empty"), 0, "no *.yaml or *.yml files"},
		{bad, 4, `unknown key "colour"`},
		{bad, 7, `300.1.1.1`},
		{bad, 11, "degraded_ttl 20 is above ttl 10"},
		{bad, 13, "exceeds failover_budget 5s"},
		{bad, 16, `"10.2.0.x" is not an IPv4 or IPv6 address`},
		{filepath.Join(dir, "badsite.yaml"), 11, `names site "north", which no site line in the Corefile defines`},
	}
	got := slices.Clone(r.Errors)
	for _, w := range want {
		i := slices.IndexFunc(got, func(e fileerr.FileError) bool {
			return e.File == w.file && e.Line == w.line && strings.Contains(e.Msg, w.msg)
		})
		if i < 0 {
			t.Errorf("missing %s:%d: …%s…", w.file, w.line, w.msg)
			continue
		}
		got = slices.Delete(got, i, i+1)
	}
	for _, e := range got {
		t.Errorf("unexpected: %s", e)
	}
	if t.Failed() {
		t.Logf("report:\n%s", r.Errors)
	}
	for i := 1; i < len(r.Errors); i++ {
		a, b := r.Errors[i-1], r.Errors[i]
		if a.File == corefile && b.File == corefile && a.Line > b.Line {
			t.Errorf("Corefile problems out of line order: %s before %s", a, b)
		}
	}
}

func TestValidateCorefileSyntax(t *testing.T) {
	useDirective(t)
	dir := t.TempDir()
	corefile := filepath.Join(dir, "Corefile")
	writeFiles(t, dir, map[string]string{"Corefile": "example.test {\n    hadns {\n        zone a.yaml\n\n"})
	r, err := ValidateCorefile(corefile)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Errors) != 1 || r.Errors[0].File != corefile || r.Errors[0].Line != 3 || !strings.Contains(r.Errors[0].Msg, "EOF") {
		t.Fatalf("errors %q, want one at %s:3 about the unexpected EOF", r.Errors, corefile)
	}

	writeFiles(t, dir, map[string]string{"Corefile": "example.test {\n    root .\n}\n\nexample..test:53x {\n    root .\n}\n"})
	r, err = ValidateCorefile(corefile)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Errors) != 1 || r.Errors[0].Line != 5 {
		t.Fatalf("errors %q, want one for the bad server block key on line 5", r.Errors)
	}

	if _, err := ValidateCorefile(filepath.Join(dir, "nope")); err == nil {
		t.Fatal("no error for a Corefile that does not exist")
	}
}

func TestValidateBudgets(t *testing.T) {
	useDirective(t)
	dir := t.TempDir()
	corefile := filepath.Join(dir, "Corefile")
	zone := strings.Replace(seededSiteZone, "port: 80\n", "port: 80\n    ttl: 20\n    failover_budget: 30s\n    check: {kind: tcp, interval: 2s, timeout: 500ms, fall: 3, fast_interval: 250ms}\n", 1)
	zone += "  - name: web\n    port: 80\n    check: {kind: watch}\n    backends:\n      - {address: 10.2.0.3, site: west}\n"
	writeFiles(t, dir, map[string]string{
		"Corefile": "other.test:1053 {\n    hadns {\n        zone " + filepath.Join(dir, "z.yaml") + "\n    }\n}\n",
		"z.yaml":   zone,
	})
	r, err := ValidateCorefile(corefile)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Errors) > 0 {
		t.Fatalf("errors:\n%s", r.Errors)
	}
	// tcp: longest jittered interval (2s + 5%) + (fall-1) fast intervals + fall timeouts;
	// watch: keepalive interval × (count + 1) × 9/8 + timeout at the defaults
	// (1 s, 1, 800 ms).
	want := []Budget{
		{Server: "dns://other.test.:1053", Service: "api.other.test.", Detection: 2100*time.Millisecond + 2*250*time.Millisecond + 3*500*time.Millisecond, TTL: 20 * time.Second, Limit: 30 * time.Second},
		{Server: "dns://other.test.:1053", Service: "web.other.test.", Detection: 2*time.Second*9/8 + 800*time.Millisecond, TTL: 10 * time.Second},
	}
	if !slices.Equal(r.Budgets, want) {
		t.Fatalf("budgets\n%+v\nwant\n%+v", r.Budgets, want)
	}
	if got := r.Budgets[0].Worst(); got != 24100*time.Millisecond {
		t.Errorf("Worst() = %v, want detection + TTL = 24.1s", got)
	}
}

// Setup fails on the first problem with the message it always had, while
// parse goes on to find the rest.
func TestParseGoesOnAfterAProblem(t *testing.T) {
	c := caddy.NewTestController("dns", "hadns {\n zone a.yaml\n colour blue\n reload soon\n site e.st\n}")
	c.ServerBlockKeys = []string{"example.test."}
	_, _, err := parse(c)
	var errs parseErrors
	if !asParseErrors(err, &errs) || len(errs) != 3 {
		t.Fatalf("parse: %v, want three problems", err)
	}
	c = caddy.NewTestController("dns", "hadns {\n zone a.yaml\n colour blue\n reload soon\n site e.st\n}")
	c.ServerBlockKeys = []string{"example.test."}
	want := `plugin/hadns: Testfile:3 - Error during parsing: unknown property "colour"`
	if err := setup(c); err == nil || err.Error() != want {
		t.Fatalf("setup: %v, want %s", err, want)
	}
}

func asParseErrors(err error, target *parseErrors) bool {
	e, ok := err.(parseErrors)
	*target = e
	return ok
}

package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
)

// With HADNS_TEST_MAIN=1 the test binary is the hadns command itself, so a
// test can run main's flag handling without building the binary.
func TestMain(m *testing.M) {
	if os.Getenv("HADNS_TEST_MAIN") == "1" {
		os.Args = append([]string{"hadns"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runMain runs the test binary as `hadns ARGS...`.
func runMain(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "HADNS_TEST_MAIN=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("hadns %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestDirectiveBeforeCache(t *testing.T) {
	d := dnsserver.Directives
	h, c := slices.Index(d, "hadns"), slices.Index(d, "cache")
	if h < 0 || c < 0 {
		t.Fatalf("hadns at %d, cache at %d: both must be registered", h, c)
	}
	if h != c-1 {
		t.Fatalf("hadns at %d, cache at %d: hadns must come right before cache", h, c)
	}
	if slices.Index(d, "prometheus") > h || slices.Index(d, "log") > h {
		t.Fatal("log and prometheus must still wrap hadns")
	}
}

// The plugins an authoritative server uses are compiled in; the ones that
// pull in cloud SDKs, the Kubernetes client, forwarding or tracing, and
// loadbalance (which reorders hadns's site-ordered answers), are not.
func TestCompiledPlugins(t *testing.T) {
	for _, name := range []string{
		"root", "bind", "reload", "health", "ready", "prometheus", "log", "errors", "cache",
		"acl", "any", "chaos", "debug", "pprof", "dnstap", "tls", "timeouts", "nsid", "bufsize",
		"minimal", "rewrite", "header", "metadata", "geoip", "view", "local", "whoami", "file",
		"auto", "secondary", "transfer", "tsig", "hosts", "template", "dnssec", "sign", "cancel",
		"multisocket", "proxyproto", "hadns",
	} {
		if !registered(name) {
			t.Errorf("%s is not compiled in", name)
		}
	}
	for _, name := range []string{
		"kubernetes", "k8s_external", "route53", "azure", "clouddns", "forward", "grpc",
		"trace", "loadbalance", "etcd",
	} {
		if registered(name) {
			t.Errorf("%s is compiled in", name)
		}
		if !slices.Contains(leftOut, name) {
			t.Errorf("%s is not among the left-out directives %q", name, leftOut)
		}
	}
}

// Every directive the Corefile parser accepts has a plugin behind it, and
// every plugin `hadns -plugins` lists has a directive: a Corefile naming a
// plugin that is not compiled in fails to parse ("Unknown directive") rather
// than at setup.
func TestDirectivesAreRegistered(t *testing.T) {
	d := dnsserver.Directives
	for _, name := range d {
		if !registered(name) {
			t.Errorf("directive %s has no plugin compiled in", name)
		}
	}
	for _, name := range caddy.ListPlugins()["others"] {
		name = strings.TrimPrefix(name, "dns.")
		if !slices.Contains(d, name) {
			t.Errorf("plugin %s has no directive: no Corefile can use it", name)
		}
	}
	if got := sortedCopy(strings.Fields(runMain(t, "-plugins"))); !slices.Equal(got, sortedCopy(d)) {
		t.Errorf("hadns -plugins lists %q, the directives are %q", got, sortedCopy(d))
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// The directives keep CoreDNS's order: plugins run in it, whatever order the
// Corefile names them in.
func TestDirectiveOrderIsCoreDNSs(t *testing.T) {
	var got []string
	for _, name := range dnsserver.Directives {
		if name != "hadns" {
			got = append(got, name)
		}
	}
	var want []string
	for _, name := range coreDNSDirectives {
		if slices.Contains(got, name) {
			want = append(want, name)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("directives\n%q\nnot in CoreDNS's order\n%q", got, want)
	}
	if len(got)+len(leftOut) != len(coreDNSDirectives) {
		t.Fatalf("%d directives and %d left out, CoreDNS has %d", len(got), len(leftOut), len(coreDNSDirectives))
	}
}

func TestDirectivesFunc(t *testing.T) {
	in := []string{"root", "log", "kubernetes", "cache", "file", "forward"}
	dirs, left := directives(in, func(n string) bool { return n != "kubernetes" && n != "forward" })
	if want := []string{"root", "log", "hadns", "cache", "file"}; !slices.Equal(dirs, want) {
		t.Errorf("directives %q, want %q", dirs, want)
	}
	if want := []string{"kubernetes", "forward"}; !slices.Equal(left, want) {
		t.Errorf("left out %q, want %q", left, want)
	}
	if !slices.Equal(in, []string{"root", "log", "kubernetes", "cache", "file", "forward"}) {
		t.Errorf("input changed: %q", in)
	}
	// Without cache, hadns goes last; an hadns already listed is not doubled.
	if dirs, _ := directives([]string{"log", "hadns", "file"}, func(string) bool { return true }); !slices.Equal(dirs, []string{"log", "file", "hadns"}) {
		t.Errorf("without cache: %q", dirs)
	}
}

func TestDemoStopsAndStarts(t *testing.T) {
	in, w := io.Pipe()
	// Read only after demo returned: the channel orders its writes first.
	var out strings.Builder
	done := make(chan error, 1)
	go func() { done <- demo([]string{"127.0.0.1:0"}, in, &out) }()
	// Port 0 cannot be stopped by name; exercise the command parser instead.
	fmt.Fprintln(w, "stop 127.0.0.1:1")
	fmt.Fprintln(w, "quit")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("demo did not quit")
	}
	if s := out.String(); !strings.Contains(s, "backend 127.0.0.1:0 up") || !strings.Contains(s, "127.0.0.1:1 is not running") {
		t.Fatalf("demo output:\n%s", s)
	}
}

func TestDemoBackendServesHealth(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	d := &demoSet{servers: map[string]*http.Server{}, out: io.Discard}
	if err := d.start(addr); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	d.command("stop " + addr)
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("a stopped backend still accepts connections")
	}
}

// Command hadns is CoreDNS with the hadns plugin compiled in: an
// authoritative DNS server whose answers follow its own health checks.
//
//	hadns -conf Corefile     serve (every CoreDNS flag works: -plugins, -quiet, ...)
//	hadns -version           hadns's version and commit, and CoreDNS's (also: hadns version)
//	hadns demo [ADDR...]     run example HTTP backends for zones/example.test.yaml
//	hadns check [-conf FILE] validate a Corefile and its zone files, print failover budgets
//	hadns ctl COMMAND        status, drain, undrain, down, up, clear through the admin API
//	hadns dnssec ds KEY...   print the DS records of DNSSEC KSKs for the parent zone
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"
)

// leftOut is CoreDNS's directives whose plugins are not compiled in (see
// plugins.go), so that `hadns check` can tell them from typing mistakes.
var leftOut []string

// coreDNSDirectives is CoreDNS's own directive order, before init changed it.
var coreDNSDirectives = slices.Clone(dnsserver.Directives)

func init() {
	// Runs after every imported package's init: the plugins are registered.
	d, out := directives(coreDNSDirectives, registered)
	if err := dnsserver.SetDirectives(d); err != nil {
		panic(err)
	}
	leftOut = out
}

// registered reports whether a plugin of that name is compiled in.
func registered(name string) bool {
	_, err := caddy.DirectiveAction("dns", name)
	return err == nil
}

// directives is CoreDNS's directive order with the directives of plugins
// not compiled in taken out (returned as left), so that the Corefile parser
// and `hadns -plugins` agree on what exists, and hadns put just before
// cache: cache keys answers by name and type only, so it would hand one
// site's answer to clients of another.
func directives(d []string, registered func(string) bool) (dirs, left []string) {
	for _, name := range d {
		if name == "hadns" {
			continue
		}
		if registered(name) {
			dirs = append(dirs, name)
		} else {
			left = append(left, name)
		}
	}
	i := slices.Index(dirs, "cache")
	if i < 0 {
		i = len(dirs)
	}
	return slices.Insert(dirs, i, "hadns"), left
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "demo" {
		if err := demo(os.Args[2:], os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "hadns demo:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "check" {
		os.Exit(check(os.Args[2:], os.Stdout, os.Stderr))
	}
	if len(os.Args) > 1 && os.Args[1] == "ctl" {
		os.Exit(ctl(os.Args[2:], os.Stdout, os.Stderr))
	}
	if len(os.Args) > 1 && os.Args[1] == "dnssec" {
		os.Exit(dnssecCmd(os.Args[2:], os.Stdout, os.Stderr))
	}
	if len(os.Args) == 2 && os.Args[1] == "version" {
		fmt.Print(versionText())
		return
	}
	// CoreDNS's -version prints only CoreDNS's: answer it here. The flags
	// are CoreDNS's own (registered by coremain); Run parses them again.
	flag.Parse()
	if v := flag.Lookup("version"); v != nil && v.Value.String() == "true" {
		fmt.Print(versionText())
		return
	}
	coremain.Run()
}

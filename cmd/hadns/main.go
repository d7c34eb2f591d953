// Command hadns is CoreDNS with the hadns plugin compiled in: an
// authoritative DNS server whose answers follow its own health checks.
//
//	hadns -conf Corefile     serve (every CoreDNS flag works: -version, -plugins, ...)
//	hadns demo [ADDR...]     run example HTTP backends for zones/example.test.yaml
//	hadns check [-conf FILE] validate a Corefile and its zone files, print failover budgets
//	hadns ctl COMMAND        status, drain, undrain, down, up, clear through the admin API
package main

import (
	"fmt"
	"os"
	"slices"

	"github.com/coredns/coredns/core/dnsserver"
	_ "github.com/coredns/coredns/core/plugin" // CoreDNS's standard plugins
	"github.com/coredns/coredns/coremain"

	_ "github.com/hadns/hadns/plugin" // the hadns directive
)

func init() {
	if err := dnsserver.SetDirectives(directives(dnsserver.Directives)); err != nil {
		panic(err)
	}
}

// directives puts hadns just before cache: cache keys answers by name and
// type only, so it would hand one site's answer to clients of another.
func directives(d []string) []string {
	i := slices.Index(d, "cache")
	if i < 0 {
		i = len(d)
	}
	return slices.Insert(slices.Clone(d), i, "hadns")
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
	coremain.Run()
}

// Command coredns is stock CoreDNS of the module version hadns builds
// against, with CoreDNS's own plugins and nothing else: the baseline
// test/bench measures hadns against.
package main

import (
	_ "github.com/coredns/coredns/core/plugin" // CoreDNS's standard plugins
	"github.com/coredns/coredns/coremain"
)

func main() {
	coremain.Run()
}

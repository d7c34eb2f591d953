package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/coredns/coredns/coremain"
)

// Set at build time by `make release` and `make deb`:
//
//	go build -ldflags "-X main.version=v1.2.0 -X main.commit=0123abc" ./cmd/hadns
//
// Left empty, they come from the build information the go command records
// (the module version and the VCS revision), so `go build` and `go install`
// binaries still say what they were built from.
var (
	version string
	commit  string
)

// versionInfo is hadns's version and commit: the stamped ones, else the
// build information's. modified is true when the working tree had changes.
func versionInfo(bi *debug.BuildInfo) (ver, rev string, modified bool) {
	ver, rev = version, commit
	if bi != nil {
		if ver == "" && bi.Main.Version != "" {
			ver = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if rev == "" {
					rev = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true" && commit == ""
			}
		}
	}
	if ver == "" {
		ver = "(devel)"
	}
	if rev == "" {
		rev = "unknown"
	}
	return ver, rev, modified
}

// versionText is what `hadns -version` prints: hadns's version and commit,
// then CoreDNS's version, then the platform and Go version.
func versionText() string {
	bi, _ := debug.ReadBuildInfo()
	return formatVersion(bi)
}

func formatVersion(bi *debug.BuildInfo) string {
	ver, rev, modified := versionInfo(bi)
	var b strings.Builder
	fmt.Fprintf(&b, "hadns %s (commit %s", ver, rev)
	if modified {
		b.WriteString(", modified")
	}
	b.WriteString(")\n")
	fmt.Fprintf(&b, "%s-%s\n", coremain.CoreName, coremain.CoreVersion)
	fmt.Fprintf(&b, "%s/%s, %s\n", runtime.GOOS, runtime.GOARCH, runtime.Version())
	return b.String()
}

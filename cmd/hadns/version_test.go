package main

import (
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/coredns/coredns/coremain"
)

func TestVersionInfo(t *testing.T) {
	vcs := &debug.BuildInfo{
		Main: debug.Module{Path: "github.com/hadns/hadns", Version: "v0.0.0-20261201050000-9a111b3e5f12+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "9a111b3e5f1200000000000000000000deadbeef"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	for _, c := range []struct {
		name            string
		version, commit string // stamped with -ldflags -X
		bi              *debug.BuildInfo
		want            string
	}{
		{"stamped", "v1.2.0", "0123abc", vcs, "hadns v1.2.0 (commit 0123abc)"},
		{"build info", "", "", vcs, "hadns v0.0.0-20261201050000-9a111b3e5f12+dirty (commit 9a111b3e5f1200000000000000000000deadbeef, modified)"},
		{"stamped version only", "v1.2.0", "", vcs, "hadns v1.2.0 (commit 9a111b3e5f1200000000000000000000deadbeef, modified)"},
		{"go run", "", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "hadns (devel) (commit unknown)"},
		{"no build info", "", "", nil, "hadns (devel) (commit unknown)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			version, commit = c.version, c.commit
			t.Cleanup(func() { version, commit = "", "" })
			lines := strings.Split(formatVersion(c.bi), "\n")
			if lines[0] != c.want {
				t.Errorf("got %q, want %q", lines[0], c.want)
			}
			if want := coremain.CoreName + "-" + coremain.CoreVersion; len(lines) < 2 || lines[1] != want {
				t.Errorf("CoreDNS line %q, want %q", lines[1:], want)
			}
		})
	}
}

// `hadns -version` and `hadns version` print hadns's version before
// CoreDNS's, not CoreDNS's alone.
func TestVersionCommand(t *testing.T) {
	re := regexp.MustCompile(`^hadns \S+ \(commit \S+?(, modified)?\)\nCoreDNS-` + regexp.QuoteMeta(coremain.CoreVersion) + `\n[a-z0-9]+/[a-z0-9]+, go\S+\n$`)
	for _, args := range [][]string{{"-version"}, {"--version"}, {"version"}} {
		if out := runMain(t, args...); !re.MatchString(out) {
			t.Errorf("hadns %s:\n%s", args[0], out)
		}
	}
}

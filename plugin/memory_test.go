package hadns

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"

	"github.com/coredns/coredns/plugin/file"

	"github.com/hadns/hadns/healthcheck"
	"github.com/hadns/hadns/internal/sites"
)

// memorySizes are the zone sizes TestMemoryAgainstCoreDNSFile measures:
// the figures DESIGN.md quotes (100,000 static records, 20,000 services)
// with HADNS_MEMORY_FULL=1, a tenth of them otherwise so the test stays
// quick.
func memorySizes() (records, services int) {
	if os.Getenv("HADNS_MEMORY_FULL") != "" {
		return 100000, 20000
	}
	if os.Getenv("HADNS_MEMORY_MID") != "" {
		return 30000, 6000
	}
	return 10000, 2000
}

// heapAfter returns the live heap after f, and keeps f's result alive
// until measured.
func heapAfter(f func() any) uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	v := f()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	runtime.KeepAlive(v)
	return ms.HeapAlloc - before
}

// The same records served by hadns (static records, and services with two
// backends in two sites) against CoreDNS's file plugin serving them as plain
// A records. DESIGN.md asks for at most 2×; hadns is at 1.69× at full size
// and 1.64× at the reduced one (it was 11.8×: four recorder messages per
// packed reply, a NODATA per name, a metric series per service and client
// site made before any query, a map per name for its packed replies and
// another for its records, copies of every check target, SRV target names
// for services without SRV; then 2.4×: a copy of the check spec per backend,
// room in every packed reply and zone node for what few have (EDE, cuts,
// DNSSEC twins, additional data), the metric labels copied into every
// answer, an address record copied per answer and site). What remains is
// the packed replies themselves (one per RRset, per rotation and per site
// order), the answer sets, each backend's check target and key, and the zone
// tree's nodes. The bound below is DESIGN.md's, and holds at every size.
const maxMemoryRatio = 2.0

func TestMemoryAgainstCoreDNSFile(t *testing.T) {
	nrec, nsvc := memorySizes()
	var y, z strings.Builder
	y.WriteString("origin: mem.test.\nsoa: {mname: ns1, rname: h}\nns: [ns1]\nrecords: |\n  ns1 A 192.0.2.53\n")
	z.WriteString("$ORIGIN mem.test.\n@ 3600 IN SOA ns1 h 1 3600 600 1209600 30\n@ 3600 IN NS ns1\nns1 3600 IN A 192.0.2.53\n")
	for i := range nrec {
		fmt.Fprintf(&y, "  h%d A 10.%d.%d.%d\n", i, i>>16&255, i>>8&255, i&255)
		fmt.Fprintf(&z, "h%d 3600 IN A 10.%d.%d.%d\n", i, i>>16&255, i>>8&255, i&255)
	}
	y.WriteString("services:\n")
	for i := range nsvc {
		a, b := fmt.Sprintf("172.16.%d.%d", i>>8&255, i&255), fmt.Sprintf("172.17.%d.%d", i>>8&255, i&255)
		fmt.Fprintf(&y, "  - name: s%d\n    port: 80\n    backends:\n      - {address: %s, site: east}\n      - {address: %s, site: west}\n", i, a, b)
		fmt.Fprintf(&z, "s%d 10 IN A %s\ns%d 10 IN A %s\n", i, a, i, b)
	}
	path := filepath.Join(t.TempDir(), "mem.yaml")
	if err := os.WriteFile(path, []byte(y.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	zoneText := z.String()
	y.Reset()
	z.Reset()

	stock := heapAfter(func() any {
		fz, err := file.Parse(strings.NewReader(zoneText), "mem.test.", "mem.db", 0)
		if err != nil {
			t.Fatal(err)
		}
		return fz
	})
	var e *engine
	ours := heapAfter(func() any {
		cfg := &config{origins: []string{"."}, files: []string{path}, sites: []sites.Config{{Name: "east"}, {Name: "west"}}}
		snap, err := load(cfg)
		if err != nil {
			t.Fatal(err)
		}
		e = newEngine(&Hadns{}, cfg, snap, newCheckerPool(healthcheck.Options{}))
		return e
	})
	if out := os.Getenv("HADNS_MEMPROFILE"); out != "" {
		// Where the memory goes: go tool pprof -sample_index=inuse_space.
		f, err := os.Create(out)
		if err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		pprof.WriteHeapProfile(f)
		f.Close()
	}
	runtime.KeepAlive(e)
	liveSeries.set(e, nil)
	ratio := float64(ours) / float64(stock)
	t.Logf("%d static records and %d services (2 backends, 2 sites): hadns %.1f MiB, CoreDNS file %.1f MiB (live heap): %.2f×",
		nrec, nsvc, float64(ours)/(1<<20), float64(stock)/(1<<20), ratio)
	if ratio > maxMemoryRatio {
		t.Errorf("hadns takes %.2f× the memory of CoreDNS's file plugin for the same records, want at most %v×", ratio, maxMemoryRatio)
	}
}

package hadns

import (
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hadns/hadns/internal/zone"
)

// dirGrace is how long a zone whose file left a `zones DIR` folder keeps
// being served: a file renamed away (or deleted and written anew by a tool
// that does not replace files atomically) does not make its zone answer
// REFUSED at once; if no file brings the origin back within it, the zone
// is dropped.
const dirGrace = time.Minute

// fileStat is what a reload tick learns of a zone file without reading it.
type fileStat struct {
	path    string
	size    int64
	mtime   time.Time
	missing bool
}

// fileVersion is the zone files as seen on one tick: their stats, and once
// read, their contents and its hash.
type fileVersion struct {
	stats []fileStat
	sum   [32]byte
	data  map[string][]byte
}

// zoneWatch decides, tick by tick, when the zone files changed and are
// settled: a new version is applied only once two consecutive ticks saw the
// same sizes, modification times and content hash, so a file an editor
// writes in two steps is not served half-written. A tick whose stats are
// those of the version last settled reads nothing.
type zoneWatch struct {
	settled fileVersion  // the version last applied or rejected
	pending *fileVersion // a different version seen on the last tick
	missing map[string]bool
	// carried are zones whose file left a zones folder, served until
	// their deadline; fromFiles is the snapshot the files gave.
	carried   map[string]carriedZone // by origin
	fromFiles *snapshot
}

type carriedZone struct {
	zone  *zone.Zone
	until time.Time
}

// statFiles lists and stats the zone files of cfg. Named files that are
// missing are listed as missing; a listing error is returned as is.
func statFiles(cfg *config) ([]fileStat, error) {
	files, err := zoneFiles(cfg)
	out := make([]fileStat, 0, len(files))
	for _, f := range files {
		fi, serr := os.Stat(f)
		if serr != nil {
			out = append(out, fileStat{path: f, missing: true})
			continue
		}
		out = append(out, fileStat{path: f, size: fi.Size(), mtime: fi.ModTime()})
	}
	return out, err
}

// readZoneFile reads a zone file for a reload tick; tests count the reads.
var readZoneFile = os.ReadFile

// readFiles reads the files of stats and hashes their names and contents.
func readFiles(stats []fileStat) fileVersion {
	v := fileVersion{stats: stats, data: map[string][]byte{}}
	h := sha256.New()
	for _, st := range stats {
		h.Write([]byte(st.path))
		h.Write([]byte{0})
		data, err := readZoneFile(st.path)
		if err != nil {
			h.Write([]byte{1})
			continue
		}
		v.data[st.path] = data
		h.Write(data)
		h.Write([]byte{0})
	}
	copy(v.sum[:], h.Sum(nil))
	return v
}

func sameStats(a, b []fileStat) bool {
	return slices.EqualFunc(a, b, func(x, y fileStat) bool {
		return x.path == y.path && x.size == y.size && x.mtime.Equal(y.mtime) && x.missing == y.missing
	})
}

// noteMissing logs a named zone file that went missing, once, and again
// when it is back.
func (w *zoneWatch) noteMissing(stats []fileStat) {
	if w.missing == nil {
		w.missing = map[string]bool{}
	}
	for _, st := range stats {
		switch {
		case st.missing && !w.missing[st.path]:
			w.missing[st.path] = true
			log.Warningf("zone file %s is missing; still serving the zones loaded before", st.path)
		case !st.missing && w.missing[st.path]:
			delete(w.missing, st.path)
			log.Infof("zone file %s is back", st.path)
		}
	}
}

// tick reports whether the files hold a new, settled version to load, and
// that version.
func (w *zoneWatch) tick(cfg *config) (*fileVersion, bool) {
	stats, err := statFiles(cfg)
	w.noteMissing(stats)
	if err != nil {
		// A folder with no zone file: keep what serves. The folder listing
		// is part of the stats, so an emptied folder counts as a change.
		stats = append(stats, fileStat{path: err.Error(), missing: true})
	}
	if sameStats(stats, w.settled.stats) {
		w.pending = nil
		return nil, false
	}
	v := readFiles(stats)
	if w.pending == nil || !sameStats(stats, w.pending.stats) || v.sum != w.pending.sum {
		w.pending = &v // changed since the last tick: wait for it to settle
		return nil, false
	}
	w.pending = nil
	if v.sum == w.settled.sum {
		w.settled = v // touched, not changed
		return nil, false
	}
	return &v, true
}

// carry adds to snap the zones of prev whose file left a zones folder and
// whose origin no file serves any more, for dirGrace from when they left;
// it drops the ones whose grace is over. It reports whether any zone was
// dropped.
func (w *zoneWatch) carry(cfg *config, prev, snap *snapshot, now time.Time) bool {
	if w.carried == nil {
		w.carried = map[string]carriedZone{}
	}
	if prev != nil {
		for origin, z := range prev.zones {
			if _, ok := snap.zones[origin]; ok || !inDirs(z.File(), cfg.dirs) {
				continue
			}
			if _, err := os.Stat(z.File()); !errors.Is(err, fs.ErrNotExist) {
				continue // still there: its zone moved to another file or was removed from it
			}
			if _, ok := w.carried[origin]; !ok {
				w.carried[origin] = carriedZone{zone: z, until: now.Add(dirGrace)}
				log.Warningf("zone %s: its file %s left the zones folder; still serving it for %v, then dropping it unless a file brings it back", origin, z.File(), dirGrace)
			}
		}
	}
	dropped := false
	for origin, c := range w.carried {
		switch {
		case snap.zones[origin] != nil && snap.zones[origin] != c.zone:
			delete(w.carried, origin) // a file serves it again
		case !now.Before(c.until):
			delete(w.carried, origin)
			dropped = true
			log.Warningf("zone %s: its file %s has been gone for %v; no longer serving it", origin, c.zone.File(), dirGrace)
		default:
			snap.zones[origin] = c.zone
		}
	}
	return dropped
}

// expired reports whether a carried zone's grace is over.
func (w *zoneWatch) expired(now time.Time) bool {
	for _, c := range w.carried {
		if !now.Before(c.until) {
			return true
		}
	}
	return false
}

func inDirs(file string, dirs []string) bool {
	for _, d := range dirs {
		if rel, err := filepath.Rel(d, file); err == nil && !strings.HasPrefix(rel, "..") && !strings.Contains(rel, string(filepath.Separator)) {
			return true
		}
	}
	return false
}

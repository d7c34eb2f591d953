package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// The last known good copy: every snapshot applied from etcd is written to
// CacheFile, so an instance restarted while etcd is down serves what the set
// last agreed on. Writes are atomic (temp file, fsync, rename, fsync of the
// directory): a crash leaves the old copy or the new one, never half.
//
// Writing happens on its own goroutine and coalesces: at most one write
// every persistEvery, of the newest snapshot; the ones in between are
// skipped. The watcher never waits for the disk, and a burst of changes
// does not turn into a burst of full-snapshot writes (with 11,000 keys
// one write is about 2 MB of JSON). The copy on disk lags by at most
// persistEvery; Close writes the last one.

// persisted is the file's content: a format version and the snapshot.
type persisted struct {
	Format   int       `json:"format"`
	Snapshot *Snapshot `json:"snapshot"`
}

const persistFormat = 1

// persistEvery is the least time between two writes of the copy.
const persistEvery = time.Second

func (s *Store) queuePersist(snap *Snapshot) {
	if s.cfg.CacheFile == "" {
		return
	}
	s.persistMu.Lock()
	s.persistPending = snap
	s.persistMu.Unlock()
	select {
	case s.persistc <- struct{}{}:
	default: // a write is already signalled; it will take the newest
	}
}

func (s *Store) persistLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.persistc:
			s.flushPersist()
		}
		select {
		case <-ctx.Done():
			return
		case <-s.opt.Clock.After(persistEvery):
		}
	}
}

// flushPersist writes the pending snapshot, if any.
func (s *Store) flushPersist() {
	s.persistMu.Lock()
	snap := s.persistPending
	s.persistPending = nil
	if snap != nil {
		// Hold the lock while writing so Close's final flush and the loop
		// never write the file at the same time (or out of order).
		defer s.persistMu.Unlock()
	} else {
		s.persistMu.Unlock()
		return
	}
	c := *snap
	c.Saved = s.opt.Clock.Now().UTC()
	if err := writeAtomic(s.cfg.CacheFile, &persisted{Format: persistFormat, Snapshot: &c}); err != nil {
		s.logf("store: saving last known good copy: %v", err)
	}
}

// writeAtomic replaces path with v's JSON: temp file in the same
// directory, fsync, rename over path, fsync the directory.
func writeAtomic(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// loadPersisted reads CacheFile; the snapshot comes back marked Stale.
// Zones are checked again by the validator: the binary may have changed
// since the copy was written.
func (s *Store) loadPersisted() (*Snapshot, error) {
	if s.cfg.CacheFile == "" {
		return nil, errors.New("no cache file configured")
	}
	data, err := os.ReadFile(s.cfg.CacheFile)
	if err != nil {
		return nil, err
	}
	var p persisted
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", s.cfg.CacheFile, err)
	}
	if p.Format != persistFormat || p.Snapshot == nil {
		return nil, fmt.Errorf("%s: unknown format %d", s.cfg.CacheFile, p.Format)
	}
	snap := p.Snapshot
	snap.fillNil()
	snap.Stale = true
	if s.opt.Validate != nil {
		for origin, z := range snap.Zones {
			if err := s.opt.Validate(origin, z.Doc); err != nil {
				s.logf("store: saved zone %s refused: %v", origin, oneLine(err.Error()))
				delete(snap.Zones, origin)
				snap.Rejected[s.ZoneKey(origin)] = oneLine(err.Error())
			}
		}
	}
	return snap, nil
}

package ops

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hadns/hadns/healthcheck"
	"github.com/hadns/hadns/internal/adminapi"
)

// Listener is told when the overrides of a store change, so it can fold
// them into its answers again: in hadns, an engine.
type Listener interface {
	OverridesChanged()
}

// Logger is where a store logs changes, expiries and state file trouble
// (CoreDNS's plugin logger in hadns).
type Logger interface {
	Infof(format string, args ...any)
	Warningf(format string, args ...any)
	Errorf(format string, args ...any)
}

// Store holds the overrides of one state file (or of the process,
// without one) and the listeners that fold them into their answers. It lives
// as long as the process, so a Corefile reload finds the same overrides, and
// a restart reads them back from the file.
type Store struct {
	path  string // "": kept in memory only
	clock healthcheck.Clock
	log   Logger

	mu      sync.Mutex
	list    []adminapi.Override
	seq     uint64
	loadErr error // the file did not parse: it is moved aside before the first save
	users   map[Listener]struct{}
	wake    chan struct{} // the earliest expiry may have changed
	cancel  context.CancelFunc
	done    chan struct{}
}

// ErrNoMatch is a selector that picks no backend, or a clear with nothing to
// clear; the API answers 404.
var ErrNoMatch = errors.New("no match")

// NewStore returns the store of the state file at path ("": memory only),
// loading its overrides. A file that does not parse is logged and kept; the
// store starts empty and moves the file aside before its first save.
func NewStore(path string, clock healthcheck.Clock, log Logger) *Store {
	s := &Store{path: path, clock: clock, log: log, users: map[Listener]struct{}{}, wake: make(chan struct{}, 1)}
	if path == "" {
		return s
	}
	if n := removeStaleTemps(path); n > 0 {
		s.log.Infof("state file %s: removed %d temporary file(s) left by interrupted writes", path, n)
	}
	list, err := LoadState(path)
	if err != nil {
		s.loadErr = err
		s.log.Errorf("%v; serving without its overrides (the file is kept, and moved to %s.bad before the next change)", err, path)
		return s
	}
	s.list = list
	for _, o := range list {
		if n, err := strconv.ParseUint(o.ID, 10, 64); err == nil {
			s.seq = max(s.seq, n)
		}
	}
	if len(list) > 0 {
		s.log.Infof("state file %s: %d override(s) loaded", path, len(list))
	}
	return s
}

// All returns a copy of the current overrides.
func (s *Store) All() []adminapi.Override {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.list)
}

// Set adds o (its ID and At are filled in), replacing an override with the
// same selector. It returns the stored override and the one replaced, if any.
func (s *Store) Set(o adminapi.Override) (adminapi.Override, *adminapi.Override, error) {
	s.mu.Lock()
	var replaced *adminapi.Override
	next := make([]adminapi.Override, 0, len(s.list)+1)
	for _, old := range s.list {
		if old.Selector() == o.Selector() {
			replaced = &old
			continue
		}
		next = append(next, old)
	}
	s.seq++
	o.ID = strconv.FormatUint(s.seq, 10)
	o.At = s.clock.Now().UTC()
	next = append(next, o)
	err := s.commitLocked(next)
	s.mu.Unlock()
	if err != nil {
		return o, nil, err
	}
	if replaced != nil {
		s.log.Infof("override replaced: %s", replaced.Describe())
	}
	s.log.Infof("override set: %s", o.Describe())
	s.notify()
	return o, replaced, nil
}

// Clear removes the overrides whose selector is sel (and whose action is
// only, unless only is ""). Clearing nothing is ErrNoMatch.
func (s *Store) Clear(sel adminapi.Selector, only, by string) ([]adminapi.Override, error) {
	return s.remove(func(o *adminapi.Override) bool {
		return o.Selector() == sel && (only == "" || o.Action == only)
	}, by)
}

// Delete removes the override with the given ID.
func (s *Store) Delete(id, by string) ([]adminapi.Override, error) {
	return s.remove(func(o *adminapi.Override) bool { return o.ID == id }, by)
}

func (s *Store) remove(drop func(*adminapi.Override) bool, by string) ([]adminapi.Override, error) {
	s.mu.Lock()
	var gone, next []adminapi.Override
	for _, o := range s.list {
		if drop(&o) {
			gone = append(gone, o)
		} else {
			next = append(next, o)
		}
	}
	if len(gone) == 0 {
		s.mu.Unlock()
		return nil, ErrNoMatch
	}
	err := s.commitLocked(next)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	for _, o := range gone {
		if by != "" {
			s.log.Infof("override cleared by %s: %s", by, o.Describe())
		} else {
			s.log.Infof("override cleared: %s", o.Describe())
		}
	}
	s.notify()
	return gone, nil
}

// expire removes the overrides whose expiry has passed.
func (s *Store) expire() {
	now := s.clock.Now()
	s.mu.Lock()
	var gone, next []adminapi.Override
	for _, o := range s.list {
		if !o.Expires.IsZero() && !o.Expires.After(now) {
			gone = append(gone, o)
		} else {
			next = append(next, o)
		}
	}
	if len(gone) == 0 {
		s.mu.Unlock()
		return
	}
	if err := s.commitLocked(next); err != nil {
		// Expired overrides stop counting anyway (effective skips them);
		// the file catches up at the next change.
		s.log.Errorf("override expiry: %v", err)
		s.list = next
	}
	s.mu.Unlock()
	for _, o := range gone {
		s.log.Infof("override expired: %s", o.Describe())
	}
	s.notify()
}

// commitLocked saves next to the state file and, once it is safely there,
// makes it the current list. A failed save changes nothing.
func (s *Store) commitLocked(next []adminapi.Override) error {
	if s.path != "" {
		if s.loadErr != nil {
			bad := s.path + ".bad"
			if err := os.Rename(s.path, bad); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("state file %s did not parse and cannot be moved aside: %w", s.path, err)
			}
			s.log.Warningf("state file %s did not parse; moved it to %s before writing the new state", s.path, bad)
			s.loadErr = nil
		}
		if err := saveState(s.path, next); err != nil {
			return err
		}
	}
	s.list = next
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// notify has every listener recompute its answers.
func (s *Store) notify() {
	s.mu.Lock()
	users := make([]Listener, 0, len(s.users))
	for e := range s.users {
		users = append(users, e)
	}
	s.mu.Unlock()
	for _, e := range users {
		e.OverridesChanged()
	}
}

// Attach registers a started listener; the first one starts the expiry loop.
func (s *Store) Attach(e Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[e] = struct{}{}
	if s.cancel == nil {
		ctx, cancel := context.WithCancel(context.Background())
		s.cancel, s.done = cancel, make(chan struct{})
		go s.expiryLoop(ctx, s.done)
	}
}

// Attached reports whether l is attached, and how many listeners are.
func (s *Store) Attached(l Listener) (bool, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.users[l]
	return ok, len(s.users)
}

// Used reports whether a listener is attached.
func (s *Store) Used() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.users) > 0
}

// Detach unregisters a listener; the last one out stops the expiry loop. The
// overrides stay: the next listener (a reload) finds them.
func (s *Store) Detach(e Listener) {
	s.mu.Lock()
	delete(s.users, e)
	if len(s.users) > 0 || s.cancel == nil {
		s.mu.Unlock()
		return
	}
	cancel, done := s.cancel, s.done
	s.cancel, s.done = nil, nil
	s.mu.Unlock()
	cancel()
	<-done
}

// expiryLoop sleeps until the earliest expiry, removes what expired, and
// starts over when the set of overrides changes.
func (s *Store) expiryLoop(ctx context.Context, done chan struct{}) {
	defer close(done)
	for {
		var next time.Time
		s.mu.Lock()
		for _, o := range s.list {
			if !o.Expires.IsZero() && (next.IsZero() || o.Expires.Before(next)) {
				next = o.Expires
			}
		}
		s.mu.Unlock()
		var fire <-chan time.Time
		var t healthcheck.Timer
		if !next.IsZero() {
			t = s.clock.NewTimer(next.Sub(s.clock.Now()))
			fire = t.C()
		}
		select {
		case <-ctx.Done():
			if t != nil {
				t.Stop()
			}
			return
		case <-s.wake:
		case <-fire:
			s.expire()
		}
		if t != nil {
			t.Stop()
		}
	}
}

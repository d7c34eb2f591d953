package hadns

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"sync"
	"time"
)

// engine owns what changes behind the query path: the loaded zones, the
// answers computed from health, and the reload loop. Every change builds new
// answers and publishes them atomically; ServeDNS never waits for it.
type engine struct {
	h   *Hadns
	cfg *config

	mu      sync.Mutex // serialises rebuilds: reloads and health changes
	snap    *snapshot
	sum     [32]byte // content hash of the files snap was loaded from
	failSum [32]byte // content hash of the last files that failed to load

	cancel context.CancelFunc
	done   chan struct{}
}

func newEngine(h *Hadns, cfg *config, snap *snapshot) *engine {
	e := &engine{h: h, cfg: cfg}
	e.sum, _ = filesSum(cfg)
	e.install(snap)
	return e
}

// install computes answers for every service of snap and publishes it.
func (e *engine) install(snap *snapshot) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, z := range snap.zones {
		for _, s := range z.services {
			s.answers.Store(computeAnswers(s, e.health(s), snap.sites.orders))
		}
	}
	e.snap = snap
	e.h.snap.Store(snap)
}

// health returns what selection knows of each backend of s.
func (e *engine) health(s *service) []Health {
	return make([]Health, len(s.backends)) // all Healthy until checks are wired in
}

func (e *engine) start() error {
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.done = make(chan struct{})
	e.h.ready.Store(true)
	go func() {
		defer close(e.done)
		e.reloadLoop(ctx)
	}()
	return nil
}

func (e *engine) stop() error {
	if e.cancel != nil {
		e.cancel()
		<-e.done
		e.cancel = nil
	}
	return nil
}

// reloadLoop checks the zone files every cfg.reload and reloads them when
// their content changed. A file that fails keeps the old zones serving; its
// errors are logged once per bad version, not on every tick.
func (e *engine) reloadLoop(ctx context.Context) {
	if e.cfg.reload <= 0 {
		<-ctx.Done()
		return
	}
	t := time.NewTicker(e.cfg.reload)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.reloadIfChanged()
		}
	}
}

// reloadIfChanged reloads the zone files if their content changed, and
// reports whether it installed new zones.
func (e *engine) reloadIfChanged() bool {
	sum, err := filesSum(e.cfg)
	if err == nil && (sum == e.sum || sum == e.failSum) {
		return false
	}
	snap, lerr := load(e.cfg)
	if lerr == nil {
		lerr = err
	}
	if lerr != nil {
		e.failSum = sum
		var list ErrorList
		if errors.As(lerr, &list) {
			for _, fe := range list {
				log.Errorf("reload failed, still serving the previous zones: %s", fe)
			}
		} else {
			log.Errorf("reload failed, still serving the previous zones: %v", lerr)
		}
		return false
	}
	e.install(snap)
	e.sum = sum
	log.Infof("reloaded %d zone(s)", len(snap.zones))
	return true
}

// filesSum hashes the names and contents of every zone file.
func filesSum(cfg *config) ([32]byte, error) {
	files, err := zoneFiles(cfg)
	if err != nil {
		return [32]byte{}, err
	}
	h := sha256.New()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return [32]byte{}, err
		}
		h.Write([]byte(f))
		h.Write([]byte{0})
		h.Write(data)
		h.Write([]byte{0})
	}
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s, nil
}

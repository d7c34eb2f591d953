package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
)

// ValidateFunc checks a zone document before it is written (PutZone) and
// when it arrives from etcd (the watcher). The store treats documents as
// opaque bytes; the plugin passes the same check `hadns check` runs. A
// non-nil error refuses the document and should say why with line numbers.
type ValidateFunc func(origin string, doc []byte) error

// Clock is the time source; tests inject one to drive backoff and lag.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Options are the store's collaborators; every field is optional.
type Options struct {
	// Validate checks zone documents; nil accepts every document.
	Validate ValidateFunc
	// OnSnapshot receives every new snapshot, one call at a time from the
	// watcher's goroutine, in revision order. It must return quickly (swap
	// a pointer, rebuild answers); it is never called with a lock held.
	OnSnapshot func(*Snapshot)
	// Logf receives one line for each refused value, each lost and each
	// regained connection. Default: discard.
	Logf func(format string, args ...any)
	// Clock defaults to the real clock.
	Clock Clock
	// Backoff gives the wait before retry number attempt (0, 1, ...).
	// Default Backoff(100 ms, 10 s).
	Backoff func(attempt int) time.Duration
}

// Backoff returns capped exponential backoff with jitter: attempt n waits a
// random duration in [d/2, d) with d = min(base·2ⁿ, max), so instances that
// lost etcd together do not come back in step.
func Backoff(base, max time.Duration) func(attempt int) time.Duration {
	return func(attempt int) time.Duration {
		d := max
		if attempt < 32 && base<<attempt > 0 && base<<attempt < max {
			d = base << attempt
		}
		return d/2 + rand.N(d/2+1)
	}
}

// Status is the store's connection state, for status pages and metrics.
type Status struct {
	Connected   bool          // the watch is established and heard from recently
	Revision    int64         // revision of the current snapshot
	LastError   string        // the last error talking to etcd, or ""
	LastContact time.Time     // last response from etcd; zero if never
	Lag         time.Duration // time since LastContact (since start if never)
	Stale       bool          // the current snapshot came from the local file
	Relists     int           // full lists done (start, compaction)
	Rejected    int           // values refused in the current snapshot
}

// Store is a hadns nameserver set's view of, and writer to, etcd.
type Store struct {
	cfg  Config
	opt  Options
	cli  *clientv3.Client
	logf func(string, ...any)

	snap atomic.Pointer[Snapshot]

	mu          sync.Mutex // guards the fields below
	connected   bool
	lastErr     string
	lastContact time.Time
	started     time.Time
	relists     int
	cancel      context.CancelFunc
	done        chan struct{}
	instance    *instanceLease
	regs        map[string]*registrant

	closeOnce sync.Once

	persistMu      sync.Mutex
	persistPending *Snapshot
	persistc       chan struct{}
}

// New validates cfg, applies its defaults and creates the etcd client. It
// does not wait for etcd (the client connects in the background), so it
// succeeds while etcd is down; Start begins watching.
func New(cfg Config, opt Options) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if opt.Clock == nil {
		opt.Clock = realClock{}
	}
	if opt.Backoff == nil {
		opt.Backoff = Backoff(100*time.Millisecond, 10*time.Second)
	}
	logf := opt.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	tc, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:            cfg.Endpoints,
		DialTimeout:          cfg.DialTimeout,
		DialKeepAliveTime:    cfg.DialTimeout,
		DialKeepAliveTimeout: cfg.DialTimeout,
		TLS:                  tc,
		Username:             cfg.Username,
		Password:             cfg.Password,
		Logger:               zap.NewNop(),
		DialOptions:          []grpc.DialOption{grpc.WithConnectParams(reconnectParams(cfg.DialTimeout))},
	})
	if err != nil {
		return nil, fmt.Errorf("store: etcd client: %w", err)
	}
	s := &Store{cfg: cfg, opt: opt, cli: cli, logf: logf, regs: map[string]*registrant{}, persistc: make(chan struct{}, 1)}
	s.snap.Store(emptySnapshot())
	return s, nil
}

// Config returns the configuration with its defaults applied.
func (s *Store) Config() Config { return s.cfg }

// Snapshot returns the current snapshot (never nil; empty before the
// first). It is safe on any path: one atomic load.
func (s *Store) Snapshot() *Snapshot { return s.snap.Load() }

// Start begins watching in the background and returns at once: etcd never
// blocks the caller. The first snapshot is handed to OnSnapshot when the
// first list succeeds, or, if etcd cannot be reached at start, the last
// known good snapshot from CacheFile, marked Stale. Call Close to stop.
func (s *Store) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done != nil {
		return errors.New("store: already started")
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.done = make(chan struct{})
	s.started = s.opt.Clock.Now()
	go s.persistLoop(ctx)
	go s.run(ctx)
	return nil
}

// Close stops the watcher, writes the last snapshot to disk, revokes the
// instance lease (this instance's observations and served records vanish
// at once) and closes the client. Registrations made through this store
// are not deleted: they vanish when their lease expires, as a crashed
// registrant's would; call Deregister to remove one at once.
func (s *Store) Close() error {
	err := errors.New("store: already closed")
	s.closeOnce.Do(func() { err = s.close() })
	return err
}

func (s *Store) close() error {
	s.mu.Lock()
	cancel, done, inst := s.cancel, s.done, s.instance
	regs := s.regs
	s.regs = map[string]*registrant{}
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
		s.flushPersist()
	}
	for _, r := range regs {
		r.stop()
	}
	if inst != nil {
		inst.stop(s, true)
	}
	return s.cli.Close()
}

// Status reports the connection state. It takes a mutex: for status pages
// and metrics scrapes, not for the query path.
func (s *Store) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := s.snap.Load()
	now := s.opt.Clock.Now()
	st := Status{
		// A watcher that has heard nothing for longer than it tolerates
		// is not connected, whatever it last concluded.
		Connected:   s.connected && now.Sub(s.lastContact) <= s.cfg.Heartbeat+s.cfg.DialTimeout,
		Revision:    snap.Revision,
		LastError:   s.lastErr,
		LastContact: s.lastContact,
		Stale:       snap.Stale,
		Relists:     s.relists,
		Rejected:    len(snap.Rejected),
	}
	if !st.Connected && s.connected && st.LastError == "" {
		st.LastError = "no response from etcd since " + s.lastContact.UTC().Format(time.RFC3339Nano)
	}
	since := s.lastContact
	if since.IsZero() {
		since = s.started
	}
	if !since.IsZero() {
		st.Lag = now.Sub(since)
	}
	return st
}

func (s *Store) contact(connected bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if connected && !s.connected {
		s.logf("store: connected to etcd")
	}
	s.connected = connected
	s.lastContact = s.opt.Clock.Now()
	if connected {
		s.lastErr = ""
	}
}

func (s *Store) lost(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.connected {
		s.logf("store: lost etcd: %v", err)
	}
	s.connected = false
	s.lastErr = err.Error()
}

// publish makes next the current snapshot, hands it on and queues it for
// the last-known-good file.
func (s *Store) publish(next *Snapshot) {
	s.snap.Store(next)
	if s.opt.OnSnapshot != nil {
		s.opt.OnSnapshot(next)
	}
	if !next.Stale {
		s.queuePersist(next)
	}
}

// requestTimeout bounds every single request; lists get more time since
// they move the whole prefix.
func (s *Store) requestCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.DialTimeout)
}

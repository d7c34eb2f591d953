package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Leases: a registration lives under its registrant's lease, and an
// instance's observations and served records under the instance's lease,
// so whatever a dead process wrote disappears by itself after the TTL.
// Each lease has one goroutine that keeps it alive and, when the lease is
// lost (etcd was away longer than the TTL), grants a new one and writes its
// keys again. Callers never wait for etcd beyond the first registration.

// registrant keeps one registration's lease alive.
type registrant struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	lease  clientv3.LeaseID
}

func (r *registrant) stop() {
	r.cancel()
	<-r.done
}

func (r *registrant) leaseID() clientv3.LeaseID {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lease
}

// Register writes a registration bound to a new lease of ttl (whole
// seconds; etcd may round up to its minimum) and keeps the lease alive
// until Deregister or Close. If the registrant dies, the key vanishes
// after ttl. Register returns once the first write is done, or its error;
// afterwards a lost lease is granted again and the key rewritten.
// Registering the same service and backend again replaces the previous one.
func (s *Store) Register(ctx context.Context, service, backend string, reg Registration, ttl time.Duration) error {
	for _, c := range []string{service, backend} {
		if err := validComponent(c); err != nil {
			return fmt.Errorf("registration %q/%q: %w", service, backend, err)
		}
	}
	if ttl < time.Second {
		return fmt.Errorf("registration ttl %s is under etcd's 1 s lease granularity", ttl)
	}
	val, err := json.Marshal(reg)
	if err != nil {
		return err
	}
	key := s.RegistrationKey(service, backend)
	lease, err := s.grantAndPut(ctx, key, string(val), ttl)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(context.Background())
	r := &registrant{cancel: cancel, done: make(chan struct{}), lease: lease}
	s.mu.Lock()
	old := s.regs[key]
	s.regs[key] = r
	s.mu.Unlock()
	if old != nil {
		old.stop()
	}
	go s.keepRegistration(rctx, r, key, string(val), ttl)
	return nil
}

func (s *Store) grantAndPut(ctx context.Context, key, val string, ttl time.Duration) (clientv3.LeaseID, error) {
	rctx, cancel := s.requestCtx(ctx)
	defer cancel()
	lg, err := s.cli.Grant(rctx, int64((ttl+time.Second-1)/time.Second))
	if err != nil {
		return 0, fmt.Errorf("store: lease for %s: %w", key, err)
	}
	if _, err := s.cli.Put(rctx, key, val, clientv3.WithLease(lg.ID)); err != nil {
		_, _ = s.cli.Revoke(rctx, lg.ID)
		return 0, fmt.Errorf("store: write %s: %w", key, err)
	}
	return lg.ID, nil
}

// keepRegistration keeps r's lease alive until ctx ends; it runs as long
// as the registration does, each lost lease costing one backoff.
func (s *Store) keepRegistration(ctx context.Context, r *registrant, key, val string, ttl time.Duration) {
	defer close(r.done)
	attempt := 0
	for {
		if ka, err := s.cli.KeepAlive(ctx, r.leaseID()); err == nil {
			for range ka { // closes when the lease is gone or ctx ends
				attempt = 0
			}
		}
		if ctx.Err() != nil {
			return
		}
		s.logf("store: registration %s lost its lease, registering again", key)
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.opt.Clock.After(s.opt.Backoff(attempt)):
			}
			attempt++
			lease, err := s.grantAndPut(ctx, key, val, ttl)
			if err == nil {
				r.mu.Lock()
				r.lease = lease
				r.mu.Unlock()
				break
			}
		}
	}
}

// Deregister deletes a registration at once and revokes its lease.
func (s *Store) Deregister(ctx context.Context, service, backend string) error {
	key := s.RegistrationKey(service, backend)
	s.mu.Lock()
	r := s.regs[key]
	delete(s.regs, key)
	s.mu.Unlock()
	rctx, cancel := s.requestCtx(ctx)
	defer cancel()
	if r != nil {
		r.stop()
		if _, err := s.cli.Revoke(rctx, r.leaseID()); err == nil {
			return nil // revoking deleted the key
		}
	}
	if _, err := s.cli.Delete(rctx, key); err != nil {
		return fmt.Errorf("store: deregister %s: %w", key, err)
	}
	return nil
}

// instanceLease owns every write under this instance's lease. Publish
// calls only record what is wanted and wake it, so they never wait.
type instanceLease struct {
	cancel context.CancelFunc
	done   chan struct{}
	wake   chan struct{}

	mu      sync.Mutex
	want    map[string]string // key → value; "" means delete
	written map[string]string // what the current lease holds
	lease   clientv3.LeaseID
}

// PublishObservation records this instance's view of one target (a
// backend's check key). It writes only when the value differs from the
// last one published, so callers pass Since as the time of the transition
// and may call it on every check result. It never waits for etcd: the
// write happens on the instance lease's goroutine, and again after a lost
// lease.
func (s *Store) PublishObservation(target string, o Observation) error {
	if err := validComponent(target); err != nil {
		return fmt.Errorf("observation %q: %w", target, err)
	}
	return s.publishOwn(s.ObservationKey(s.cfg.Instance, target), o)
}

// WithdrawObservation deletes this instance's view of a target (a backend
// removed from its configuration).
func (s *Store) WithdrawObservation(target string) {
	s.instanceLease().set(s.ObservationKey(s.cfg.Instance, target), "")
}

// PublishServed records when this instance last handed a backend out and
// with what TTL, for the set-wide drain_safe_at. Like PublishObservation
// it writes on change only and never waits; the plugin calls it from its
// own periodic bookkeeping, never from the query path.
func (s *Store) PublishServed(backend string, sv Served) error {
	if err := validComponent(backend); err != nil {
		return fmt.Errorf("served %q: %w", backend, err)
	}
	return s.publishOwn(s.ServedKey(s.cfg.Instance, backend), sv)
}

func (s *Store) publishOwn(key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	s.instanceLease().set(key, string(b))
	return nil
}

// instanceLease starts the instance lease's goroutine on first use: a
// store used only to write (hadns ctl) never holds one.
func (s *Store) instanceLease() *instanceLease {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.instance == nil {
		ctx, cancel := context.WithCancel(context.Background())
		il := &instanceLease{cancel: cancel, done: make(chan struct{}), wake: make(chan struct{}, 1),
			want: map[string]string{}, written: map[string]string{}}
		s.instance = il
		go il.run(ctx, s)
	}
	return s.instance
}

func (il *instanceLease) set(key, val string) {
	il.mu.Lock()
	cur, ok := il.want[key]
	if ok && cur == val || !ok && val == "" {
		il.mu.Unlock()
		return // unchanged: no write
	}
	il.want[key] = val
	il.mu.Unlock()
	select {
	case il.wake <- struct{}{}:
	default:
	}
}

// stop ends the goroutine; with revoke, the lease and so every key under
// it is deleted at once.
func (il *instanceLease) stop(s *Store, revoke bool) {
	il.cancel()
	<-il.done
	il.mu.Lock()
	lease := il.lease
	il.mu.Unlock()
	if revoke && lease != 0 {
		ctx, cancel := s.requestCtx(context.Background())
		defer cancel()
		_, _ = s.cli.Revoke(ctx, lease)
	}
}

func (il *instanceLease) run(ctx context.Context, s *Store) {
	defer close(il.done)
	attempt := 0
	wait := func() bool {
		select {
		case <-ctx.Done():
			return false
		case <-s.opt.Clock.After(s.opt.Backoff(attempt)):
			attempt++
			return true
		}
	}
	for ctx.Err() == nil {
		rctx, cancel := s.requestCtx(ctx)
		lg, err := s.cli.Grant(rctx, int64((s.cfg.InstanceTTL+time.Second-1)/time.Second))
		cancel()
		if err != nil {
			if !wait() {
				return
			}
			continue
		}
		ka, err := s.cli.KeepAlive(ctx, lg.ID)
		if err != nil {
			if !wait() {
				return
			}
			continue
		}
		il.mu.Lock()
		il.lease = lg.ID
		il.written = map[string]string{} // a new lease holds nothing yet
		il.mu.Unlock()
		il.serve(ctx, s, lg.ID, ka)
		if ctx.Err() != nil {
			return
		}
		s.logf("store: instance lease lost, granting a new one")
		if !wait() {
			return
		}
	}
}

// serve writes what is wanted under lease until the lease is lost. A
// failed write is retried after a backoff.
func (il *instanceLease) serve(ctx context.Context, s *Store, lease clientv3.LeaseID, ka <-chan *clientv3.LeaseKeepAliveResponse) {
	retry := 0
	var retryc <-chan time.Time
	for {
		if err := il.flush(ctx, s, lease); err != nil {
			retryc = s.opt.Clock.After(s.opt.Backoff(retry))
			retry++
		} else {
			retry, retryc = 0, nil
		}
		select {
		case <-ctx.Done():
			return
		case _, ok := <-ka:
			if !ok {
				return
			}
		case <-il.wake:
		case <-retryc:
		}
	}
}

func (il *instanceLease) flush(ctx context.Context, s *Store, lease clientv3.LeaseID) error {
	il.mu.Lock()
	var todo [][2]string
	for k, v := range il.want {
		if w, ok := il.written[k]; ok && w == v || !ok && v == "" {
			continue
		}
		todo = append(todo, [2]string{k, v})
	}
	il.mu.Unlock()
	for _, kv := range todo {
		rctx, cancel := s.requestCtx(ctx)
		var err error
		if kv[1] == "" {
			_, err = s.cli.Delete(rctx, kv[0])
		} else {
			_, err = s.cli.Put(rctx, kv[0], kv[1], clientv3.WithLease(lease))
		}
		cancel()
		if err != nil {
			return err
		}
		il.mu.Lock()
		if kv[1] == "" {
			delete(il.written, kv[0])
			if il.want[kv[0]] == "" {
				delete(il.want, kv[0])
			}
		} else {
			il.written[kv[0]] = kv[1]
		}
		il.mu.Unlock()
	}
	return nil
}

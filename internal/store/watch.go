package store

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// listPage is how many keys one list request returns: a page of 10,000
// registrations stays far under gRPC's message limits.
const listPage = 2000

// errWatchSilent is returned when a watch stops answering progress
// requests: etcd is gone or partitioned, even if the client has not
// noticed yet.
var errWatchSilent = errors.New("watch silent: no response to progress requests")

// run is the watcher: list, then watch from the listed revision + 1;
// on an error resume the watch from the last applied revision after a
// backoff; on ErrCompacted list again. It exits when ctx is done.
func (s *Store) run(ctx context.Context) {
	defer close(s.done)
	attempt := 0
	needList := true
	published := false
	for ctx.Err() == nil {
		var err error
		if needList {
			if err = s.relist(ctx); err == nil {
				needList, published = false, true
				attempt = 0
			}
		}
		if err == nil {
			err = s.watch(ctx, &attempt)
			if errors.Is(err, rpctypes.ErrCompacted) {
				// The revision to resume from is gone: list again, at once.
				s.logf("store: watch revision %d compacted, listing again", s.snap.Load().Revision+1)
				needList = true
				continue
			}
		}
		if ctx.Err() != nil {
			return
		}
		s.lost(err)
		if !published {
			// etcd unreachable at start: serve the last known good copy.
			published = true
			if snap, lerr := s.loadPersisted(); lerr == nil {
				s.logf("store: etcd unreachable (%v): serving the copy saved at %s, revision %d", err, snap.Saved.Format("2006-01-02T15:04:05Z07:00"), snap.Revision)
				s.publish(snap)
			} else {
				s.logf("store: etcd unreachable (%v) and no saved copy: %v", err, lerr)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.opt.Clock.After(s.opt.Backoff(attempt)):
		}
		attempt++
	}
}

// relist reads the whole prefix at one revision, page by page, and
// publishes it as a new snapshot. A zone refused now keeps the version the
// previous snapshot had.
func (s *Store) relist(ctx context.Context) error {
	prev := s.snap.Load()
	b := newBuilder(s.cfg.Prefix, s.opt.Validate, emptySnapshot())
	b.fallback = prev
	end := clientv3.GetPrefixRangeEnd(s.cfg.Prefix)
	key := s.cfg.Prefix
	var rev int64
	for range 1 << 20 { // bounded: 2 billion keys
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(listPage)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		rctx, cancel := s.requestCtx(ctx)
		resp, err := s.cli.Get(rctx, key, opts...)
		cancel()
		if err != nil {
			return fmt.Errorf("list %s: %w", s.cfg.Prefix, err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			b.put(kv)
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	for _, e := range b.events {
		s.logf("store: %s", e)
	}
	b.next.Revision = rev
	s.mu.Lock()
	s.relists++
	s.mu.Unlock()
	s.contact(true)
	s.publish(b.next)
	return nil
}

// watch follows the prefix from the current snapshot's revision + 1 until
// an error. It asks for a progress notification every heartbeat, and
// gives up when nothing at all came back for a heartbeat plus the dial
// timeout, because a client whose server died keeps a watch open silently
// while it reconnects.
func (s *Store) watch(ctx context.Context, attempt *int) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	from := s.snap.Load().Revision + 1
	// cli.Watch itself can block while the client's shared stream is
	// reconnecting; if nothing at all arrives in time, cancel it so the
	// loop below sees a closed channel instead of waiting forever.
	var heard atomic.Bool
	guard := time.AfterFunc(s.cfg.Heartbeat+s.cfg.DialTimeout, func() {
		if !heard.Load() {
			cancel()
		}
	})
	defer guard.Stop()
	wch := s.cli.Watch(wctx, s.cfg.Prefix, clientv3.WithPrefix(), clientv3.WithRev(from),
		clientv3.WithPrevKV(), clientv3.WithCreatedNotify(), clientv3.WithProgressNotify())
	clock := s.opt.Clock
	lastHeard := clock.Now()
	hb := clock.After(s.cfg.Heartbeat)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case resp, ok := <-wch:
			if !ok {
				return errors.New("watch closed")
			}
			if err := resp.Err(); err != nil {
				return err
			}
			heard.Store(true)
			lastHeard = clock.Now()
			*attempt = 0
			s.contact(true)
			if len(resp.Events) > 0 {
				s.apply(resp.Events)
			}
		case <-hb:
			hb = clock.After(s.cfg.Heartbeat)
			if clock.Now().Sub(lastHeard) > s.cfg.Heartbeat+s.cfg.DialTimeout {
				return errWatchSilent
			}
			rctx, rcancel := context.WithTimeout(wctx, s.cfg.DialTimeout)
			err := s.cli.RequestProgress(rctx)
			rcancel()
			if err != nil && ctx.Err() == nil {
				return fmt.Errorf("progress request: %w", err)
			}
		}
	}
}

// apply builds and publishes the snapshot after one batch of events.
func (s *Store) apply(events []*clientv3.Event) {
	prev := s.snap.Load()
	b := newBuilder(s.cfg.Prefix, s.opt.Validate, prev)
	rev := prev.Revision
	for _, ev := range events {
		if ev.Type == clientv3.EventTypeDelete {
			b.del(string(ev.Kv.Key))
		} else {
			b.put(ev.Kv)
		}
		// The response header's revision may run ahead of the events in
		// it while etcd catches a slow watcher up in chunks; the events'
		// own revisions are the safe point to resume from.
		rev = max(rev, ev.Kv.ModRevision)
	}
	for _, e := range b.events {
		s.logf("store: %s", e)
	}
	b.next.Revision = rev
	s.publish(b.next)
}

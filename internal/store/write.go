package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// ErrInvalidZone wraps the validator's refusal of a zone document.
var ErrInvalidZone = errors.New("invalid zone")

// ErrConflict is returned when a compare-and-swap edit lost to concurrent
// writers more than maxCASAttempts times in a row.
var ErrConflict = errors.New("store: too many concurrent edits, giving up")

// maxCASAttempts bounds EditOverride's read-modify-write loop.
const maxCASAttempts = 100

// PutZone validates doc with the ValidateFunc and, only if it passes,
// writes it as the zone for origin. It returns the write's revision.
func (s *Store) PutZone(ctx context.Context, origin string, doc []byte) (int64, error) {
	origin = CanonicalOrigin(origin)
	if err := validComponent(origin); err != nil {
		return 0, fmt.Errorf("zone %q: %w", origin, err)
	}
	if s.opt.Validate != nil {
		if err := s.opt.Validate(origin, doc); err != nil {
			return 0, fmt.Errorf("%w %s: %w", ErrInvalidZone, origin, err)
		}
	}
	rctx, cancel := s.requestCtx(ctx)
	defer cancel()
	resp, err := s.cli.Put(rctx, s.ZoneKey(origin), string(doc))
	if err != nil {
		return 0, fmt.Errorf("store: put zone %s: %w", origin, err)
	}
	return resp.Header.Revision, nil
}

// GetZone reads a zone document straight from etcd (for `hadns ctl zone
// get`); ok is false when there is none.
func (s *Store) GetZone(ctx context.Context, origin string) (doc []byte, ok bool, err error) {
	rctx, cancel := s.requestCtx(ctx)
	defer cancel()
	resp, err := s.cli.Get(rctx, s.ZoneKey(origin))
	if err != nil {
		return nil, false, fmt.Errorf("store: get zone %s: %w", origin, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, false, nil
	}
	return resp.Kvs[0].Value, true, nil
}

// DeleteZone removes a zone from the store.
func (s *Store) DeleteZone(ctx context.Context, origin string) error {
	rctx, cancel := s.requestCtx(ctx)
	defer cancel()
	if _, err := s.cli.Delete(rctx, s.ZoneKey(origin)); err != nil {
		return fmt.Errorf("store: delete zone %s: %w", origin, err)
	}
	return nil
}

// EditFunc is a pure edit of one override: given the current value (nil
// when the key is absent) it returns the new one, or nil to delete it. It
// may run several times (once per compare-and-swap attempt), so it must
// not have side effects; it gets its own copy of the current value.
type EditFunc func(cur *Override) (*Override, error)

// EditOverride applies edit to override id with compare-and-swap on the
// key's ModRevision: read, edit, write only if nobody wrote in between,
// else read again and re-apply. Concurrent edits through any number of
// instances are thus never lost. An override with an expiry is written
// under a lease of that TTL, so etcd deletes it at expiry even when no
// instance is running; one whose expiry has passed is deleted. It returns
// the value written (nil after a delete).
func (s *Store) EditOverride(ctx context.Context, id string, edit EditFunc) (*Override, error) {
	if err := validComponent(id); err != nil {
		return nil, fmt.Errorf("override %q: %w", id, err)
	}
	key := s.OverrideKey(id)
	for attempt := range maxCASAttempts {
		if attempt >= 2 {
			// Several conflicts in a row: spread the contenders out.
			t := time.NewTimer(rand.N(time.Duration(attempt) * time.Millisecond))
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
		}
		done, out, err := s.tryEdit(ctx, key, edit)
		if err != nil || done {
			return out, err
		}
	}
	return nil, ErrConflict
}

// tryEdit is one compare-and-swap attempt; done is false on a conflict.
func (s *Store) tryEdit(ctx context.Context, key string, edit EditFunc) (done bool, out *Override, err error) {
	rctx, cancel := s.requestCtx(ctx)
	defer cancel()
	resp, err := s.cli.Get(rctx, key)
	if err != nil {
		return false, nil, fmt.Errorf("store: read %s: %w", key, err)
	}
	var cur *Override
	var modRev int64 // 0: the key must still be absent
	if len(resp.Kvs) == 1 {
		modRev = resp.Kvs[0].ModRevision
		var o Override
		if err := strictJSON(resp.Kvs[0].Value, &o); err != nil {
			// A garbled value is edited as if absent: the edit replaces it.
			cur = nil
		} else {
			cur = &o
		}
	}
	next, err := edit(cur)
	if err != nil {
		return false, nil, err
	}
	now := s.opt.Clock.Now()
	if next != nil && !next.Expires.IsZero() && !next.Expires.After(now) {
		next = nil // already expired: as good as cleared
	}
	cmp := clientv3.Compare(clientv3.ModRevision(key), "=", modRev)
	if next == nil {
		if modRev == 0 {
			return true, nil, nil
		}
		tr, err := s.cli.Txn(rctx).If(cmp).Then(clientv3.OpDelete(key)).Commit()
		if err != nil {
			return false, nil, fmt.Errorf("store: delete %s: %w", key, err)
		}
		return tr.Succeeded, nil, nil
	}
	if next.Created.IsZero() {
		next.Created = now.UTC()
	}
	val, err := json.Marshal(next)
	if err != nil {
		return false, nil, err
	}
	var opts []clientv3.OpOption
	var lease clientv3.LeaseID
	if !next.Expires.IsZero() {
		ttl := int64(math.Ceil(next.Expires.Sub(now).Seconds()))
		lg, err := s.cli.Grant(rctx, ttl)
		if err != nil {
			return false, nil, fmt.Errorf("store: lease for %s: %w", key, err)
		}
		lease = lg.ID
		opts = append(opts, clientv3.WithLease(lease))
	}
	tr, err := s.cli.Txn(rctx).If(cmp).Then(clientv3.OpPut(key, string(val), opts...)).Commit()
	if err != nil || !tr.Succeeded {
		if lease != 0 {
			// The lease holds nothing; give it back rather than let it
			// linger until its TTL.
			_, _ = s.cli.Revoke(rctx, lease)
		}
		if err != nil {
			return false, nil, fmt.Errorf("store: write %s: %w", key, err)
		}
		return false, nil, nil
	}
	return true, next, nil
}

// PutOverride sets override id to o, keeping the Created time of the value
// it replaces.
func (s *Store) PutOverride(ctx context.Context, id string, o Override) (*Override, error) {
	return s.EditOverride(ctx, id, func(cur *Override) (*Override, error) {
		n := o
		if cur != nil && n.Created.IsZero() {
			n.Created = cur.Created
		}
		return &n, nil
	})
}

// ClearOverride deletes override id; clearing an absent one is no error.
func (s *Store) ClearOverride(ctx context.Context, id string) error {
	_, err := s.EditOverride(ctx, id, func(*Override) (*Override, error) { return nil, nil })
	return err
}

package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// RegisterLease writes a registration bound to a new lease of ttl and does
// NOT keep the lease alive: the registrant renews by calling it again before
// ttl passes (each call binds the key to a fresh lease; the previous lease
// expires with nothing under it). This is how a registration made through
// an instance's admin API lives exactly as long as the registrant keeps
// asking, not as long as the instance runs.
func (s *Store) RegisterLease(ctx context.Context, service, backend string, reg Registration, ttl time.Duration) error {
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
	_, err = s.grantAndPut(ctx, s.RegistrationKey(service, backend), string(val), ttl)
	return err
}

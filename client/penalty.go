package client

import (
	"sync"
	"time"
)

// penaltyBox remembers addresses that just failed, so the Dialer tries them
// last until their penalty ends (passive health checking: the DNS answer
// still lists a dead backend until hadns detects it and the TTL runs out).
type penaltyBox struct {
	mu    sync.Mutex
	until map[string]time.Time // address → end of its penalty
}

// add puts addr in the box until now+d.
func (p *penaltyBox) add(addr string, now time.Time, d time.Duration) {
	if d <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.until == nil {
		p.until = map[string]time.Time{}
	}
	p.until[addr] = now.Add(d)
	// Forget ended penalties now and then, so the map holds only
	// addresses that failed recently.
	if len(p.until) > 64 {
		for a, end := range p.until {
			if !now.Before(end) {
				delete(p.until, a)
			}
		}
	}
}

// clear takes addr out of the box: it just worked.
func (p *penaltyBox) clear(addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.until, addr)
}

// penalized reports whether addr is serving a penalty at now.
func (p *penaltyBox) penalized(addr string, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	end, ok := p.until[addr]
	return ok && now.Before(end)
}

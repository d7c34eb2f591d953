package healthcheck

import (
	"errors"
	"syscall"
	"time"
)

// A probe can fail for a reason on the checker's side rather than the
// target's: the process is out of file descriptors (EMFILE), the host is
// (ENFILE), socket buffers or memory are short (ENOBUFS, ENOMEM), or no local
// address or ephemeral port is left (EADDRNOTAVAIL, EADDRINUSE). Such a
// failure says nothing about the target. Counting it against the target
// would let anyone who can exhaust those resources (say, by holding many
// connections open to the DNS server in the same process) take every backend
// down at once. So a local failure leaves the target's state and counters as
// they were; the checker counts it as its own trouble (LocalTrouble) and
// retries the target after FastInterval.

// localErrnos are the errors that mean the probe could not be made.
var localErrnos = []syscall.Errno{
	syscall.EMFILE,
	syscall.ENFILE,
	syscall.ENOBUFS,
	syscall.ENOMEM,
	syscall.EADDRNOTAVAIL,
	syscall.EADDRINUSE,
}

// localError marks a failure that is the checker's own whatever its cause
// (a failed epoll_ctl on the tcp loop's epoll set, say).
type localError struct{ err error }

func (e *localError) Error() string { return e.err.Error() }
func (e *localError) Unwrap() error { return e.err }

// IsLocal reports whether err is a probe failure on the checker's side (see
// above): one that leaves the target's state as it was.
func IsLocal(err error) bool {
	if err == nil {
		return false
	}
	var le *localError
	if errors.As(err, &le) {
		return true
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	for _, l := range localErrnos {
		if errno == l {
			return true
		}
	}
	return false
}

// LocalErrorName is a short, fixed name for the cause of a local failure
// ("EMFILE"), for metric labels; "other" for any other.
func LocalErrorName(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.EMFILE:
			return "EMFILE"
		case syscall.ENFILE:
			return "ENFILE"
		case syscall.ENOBUFS:
			return "ENOBUFS"
		case syscall.ENOMEM:
			return "ENOMEM"
		case syscall.EADDRNOTAVAIL:
			return "EADDRNOTAVAIL"
		case syscall.EADDRINUSE:
			return "EADDRINUSE"
		}
	}
	return "other"
}

// LocalTrouble is the checker's own trouble: targets whose latest probe
// could not be made.
type LocalTrouble struct {
	// Targets is how many targets' latest probe failed locally; their
	// state is held from before.
	Targets int
	// Since is when the current run of trouble began: the first local
	// failure since Targets was last 0. Zero while Targets is 0.
	Since time.Time
	// LastErr is the text of the latest local failure ("connect: too many
	// open files"), kept after the trouble ends.
	LastErr string
	// Total counts local failures since the checker was created.
	Total uint64
}

// LocalTrouble returns the checker's current local trouble.
func (c *Checker) LocalTrouble() LocalTrouble {
	c.troubleMu.Lock()
	defer c.troubleMu.Unlock()
	return c.trouble
}

// recordLocal notes a local failure of e's probe: e's state and counts stay
// as they were, and the next probe comes after FastInterval (no jitter), so
// the target is checked soon once resources are back.
func (c *Checker) recordLocal(e *entry, err error, d time.Duration) time.Duration {
	now := c.clock.Now()
	// The account is kept under e.mu (then troubleMu), as clearLocal's
	// callers do, so a removal cannot slip between the two.
	e.mu.Lock()
	begin := e.localSince.IsZero() && !e.gone
	if begin {
		e.localSince = now
	}
	e.localErr = err
	next := e.target.Spec.FastInterval
	c.troubleMu.Lock()
	c.trouble.Total++
	c.trouble.LastErr = err.Error()
	if begin {
		c.trouble.Targets++
		if c.trouble.Targets == 1 {
			c.trouble.Since = now
			if c.onTrouble != nil {
				c.onTrouble(c.trouble)
			}
		}
	}
	c.troubleMu.Unlock()
	e.mu.Unlock()
	if c.onProbe != nil {
		c.onProbe(e.target, d, err)
	}
	return next
}

// clearLocal ends e's run of local failures, if it has one, and takes e
// out of the checker's trouble; e.mu must be held.
func (c *Checker) clearLocal(e *entry) {
	if e.localSince.IsZero() {
		return
	}
	e.localSince, e.localErr = time.Time{}, nil
	c.endTrouble()
}

// endTrouble takes one target out of the local trouble count.
func (c *Checker) endTrouble() {
	c.troubleMu.Lock()
	defer c.troubleMu.Unlock()
	if c.trouble.Targets == 0 {
		return
	}
	c.trouble.Targets--
	if c.trouble.Targets == 0 {
		c.trouble.Since = time.Time{}
		if c.onTrouble != nil {
			c.onTrouble(c.trouble)
		}
	}
}

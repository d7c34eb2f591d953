package healthcheck

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// tcpLoop runs the probes of every tcp target of a Checker on one goroutine,
// with one epoll instance and one deadline, instead of a goroutine, a timer
// and a netpoller registration per target. At ten thousand targets a second
// that per-target machinery (parking and waking a goroutine twice per probe,
// an os.File with a finalizer, two epoll_ctl calls, a context callback)
// cost about as much as the probe's own socket, connect and close.
//
// Semantics are those of pollLoop: each target has one schedule, its first
// probe runs when it is added, and its next probe is scheduled only when the
// last one has finished, from the same policy (Checker.record). A probe is:
//
//   - socket(SOCK_NONBLOCK) with SO_LINGER 0, so close sends a RST and leaves
//     no TIME_WAIT;
//   - connect(): on loopback it may finish at once (or be refused at once);
//     otherwise EINPROGRESS, and the socket joins the loop's epoll set,
//     one-shot, for writability;
//   - when epoll reports it, SO_ERROR says how the handshake went; then close.
//   - if its deadline (start + Timeout) comes first, it is closed and fails
//     with "connect: timeout".
//
// The epoll descriptor itself sits in Go's netpoller (an epoll set is
// readable while it has events), so the loop parks like any goroutine: on
// readiness or on the read deadline, which is set to the earliest scheduled
// probe or probe deadline. Set and Stop wake it through an eventfd.
//
// It is used for the built-in tcp prober on SystemClock. Under any other
// Clock (tests) every target keeps its own pollLoop, calling
// TCPProber.Check, so a fake clock sees one timer per target.
type tcpLoop struct {
	c    *Checker
	base time.Time // the loop's times are nanoseconds since base (monotonic)
	epfd int
	evfd int // eventfd: Set and Stop wake the loop by writing to it
	ep   *os.File
	rc   syscall.RawConn

	mu     sync.Mutex
	ops    []tcpOp // adds and removes from Set, applied by the loop
	closed bool    // evfd is closed: wake must not write to it

	// Owned by the loop goroutine.
	targets map[*entry]*tcpTarget
	heap    tcpHeap
	byFD    []*tcpTarget // the probe in flight on each socket
	gen     uint32
	events  [256]syscall.EpollEvent
	linger  syscall.Linger
	// spare holds, per address family, sockets kept open for when the
	// process runs out of descriptors (see takeSpare).
	spare map[int][]int
}

// spareSockets is how many sockets the loop keeps in reserve per address
// family its targets use: the probes it can still run at once while the
// process (or the host) has no descriptor left.
//
// A probe normally opens a socket and closes it. When socket() fails with
// EMFILE or ENFILE, say because a flood of TCP connections to the DNS
// server took every descriptor, the probe takes a spare socket instead, and
// gives it back afterwards: connect() with AF_UNSPEC dissolves the
// association (a RST if it was established, as the SO_LINGER 0 close would
// send) and leaves a socket that can connect again, so the descriptor never
// returns to the process's table where the DNS server's accept loop would
// take it. Closing a spare and opening a new socket would race that loop,
// which retries accept() without pause while descriptors are short.
const spareSockets = 8

// errShortage reports whether err is a shortage of descriptors, which a
// spare socket works around.
func errShortage(err error) bool { return err == syscall.EMFILE || err == syscall.ENFILE }

// tcpOp is a change to the loop's targets.
type tcpOp struct {
	e   *entry
	add bool
}

// tcpTarget is the loop's view of one tcp target.
type tcpTarget struct {
	e      *entry
	sa     syscall.Sockaddr // built once: Connect fills its raw form in place
	family int
	// when is the next probe's due time while idle, or the deadline of the
	// probe in flight: the heap's key.
	when  int64
	idx   int    // position in the heap
	fd    int    // socket of the probe in flight, -1 when idle
	gen   uint32 // tags the epoll registration of that socket
	start int64  // when the probe in flight started
	due   int64  // when it was due (for OnLag)
	first bool   // no result yet
	spare bool   // fd is a spare socket, to be given back rather than closed
}

// errConnectTimeout is shared by every timed-out probe: a failure costs no
// allocation.
var errConnectTimeout = &ProbeError{Op: "connect", Err: os.ErrDeadlineExceeded}

// tcpLoopSupported reports whether e can run on the loop.
func (c *Checker) tcpLoopSupported(e *entry) bool {
	if _, real := c.clock.(SystemClock); !real {
		return false
	}
	// A target with a source address dials through TCPProber.Check: the
	// loop's sockets (its spares above all) are not bound to an address.
	_, ok := e.prober.(TCPProber)
	return ok && e.target.Spec.Source == ""
}

func newTCPLoop(c *Checker) (*tcpLoop, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	r, _, e := syscall.RawSyscall(syscall.SYS_EVENTFD2, 0, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if e != 0 {
		syscall.Close(epfd)
		return nil, os.NewSyscallError("eventfd2", e)
	}
	evfd := int(r)
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(evfd)}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		syscall.Close(evfd)
		syscall.Close(epfd)
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	if err := syscall.SetNonblock(epfd, true); err != nil {
		syscall.Close(evfd)
		syscall.Close(epfd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	ep := os.NewFile(uintptr(epfd), "tcp probe epoll")
	rc, err := ep.SyscallConn()
	if err == nil {
		// Fails unless the netpoller took the descriptor.
		err = ep.SetReadDeadline(time.Time{})
	}
	if err != nil {
		ep.Close()
		syscall.Close(evfd)
		return nil, err
	}
	return &tcpLoop{
		c: c, base: time.Now(), epfd: epfd, evfd: evfd, ep: ep, rc: rc,
		targets: map[*entry]*tcpTarget{},
		linger:  syscall.Linger{Onoff: 1, Linger: 0},
		spare:   map[int][]int{},
	}, nil
}

// add and remove queue a change for the loop and wake it. They are called
// with the Checker's mu held.
func (l *tcpLoop) add(e *entry)    { l.queue(tcpOp{e: e, add: true}) }
func (l *tcpLoop) remove(e *entry) { l.queue(tcpOp{e: e}) }

func (l *tcpLoop) queue(op tcpOp) {
	l.mu.Lock()
	l.ops = append(l.ops, op)
	wake := len(l.ops) == 1 // the loop has not yet been woken for this batch
	l.mu.Unlock()
	if wake {
		l.wake()
	}
}

// wake makes the loop's epoll set readable.
func (l *tcpLoop) wake() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	_, _ = syscall.Write(l.evfd, one[:])
}

func (l *tcpLoop) now() int64 { return int64(time.Since(l.base)) }

// run is the loop. It returns when ctx is done, closing every socket.
func (l *tcpLoop) run(ctx context.Context) {
	stop := context.AfterFunc(ctx, l.wake)
	defer stop()
	defer l.shutdown()
	n := 0
	for {
		l.handle(n)
		if ctx.Err() != nil {
			return
		}
		l.apply()
		next, more := l.runDue(l.now())
		if more {
			n = l.poll()
			continue
		}
		dl := time.Time{}
		if next >= 0 {
			dl = l.base.Add(time.Duration(next))
		}
		if err := l.ep.SetReadDeadline(dl); err != nil {
			return // the descriptor was closed: nothing can wake the loop
		}
		n = 0
		err := l.rc.Read(func(uintptr) bool {
			n = l.poll()
			return n > 0
		})
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return
		}
	}
}

// poll takes the ready events without blocking.
func (l *tcpLoop) poll() int {
	n, err := syscall.EpollWait(l.epfd, l.events[:], 0)
	if err != nil {
		return 0
	}
	return n
}

// handle finishes the probes whose sockets the first n events report.
func (l *tcpLoop) handle(n int) {
	if n == 0 {
		return
	}
	now := l.now()
	for _, ev := range l.events[:n] {
		fd := int(ev.Fd)
		if fd == l.evfd {
			var buf [8]byte
			_, _ = syscall.Read(l.evfd, buf[:])
			continue
		}
		if fd < 0 || fd >= len(l.byFD) {
			continue
		}
		t := l.byFD[fd]
		// The tag rejects an event of a registration that outlived its
		// socket (a fork holding a duplicate when it was closed): the
		// number may belong to a newer probe by now.
		if t == nil || t.gen != uint32(ev.Pad) {
			continue
		}
		l.finish(t, connectResult(fd, ev.Events), now)
	}
}

// connectResult is how the connect on fd went, given its epoll events:
// writable and no error is a completed handshake (no syscall needed);
// otherwise SO_ERROR says why it failed.
func connectResult(fd int, events uint32) error {
	if events&(syscall.EPOLLERR|syscall.EPOLLHUP) == 0 && events&syscall.EPOLLOUT != 0 {
		return nil
	}
	soerr, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ERROR)
	switch {
	case err != nil:
		return &ProbeError{Op: "connect", Err: &localError{os.NewSyscallError("getsockopt", err)}}
	case soerr != 0:
		return &ProbeError{Op: "connect", Err: syscall.Errno(soerr)}
	}
	return &ProbeError{Op: "connect", Err: syscall.ECONNRESET} // hung up without a word
}

// apply takes the queued adds and removes.
func (l *tcpLoop) apply() {
	l.mu.Lock()
	ops := l.ops
	l.ops = nil
	l.mu.Unlock()
	now := l.now()
	for _, op := range ops {
		if !op.add {
			if t := l.targets[op.e]; t != nil {
				l.closeSocket(t)
				l.heap.remove(t)
				delete(l.targets, op.e)
			}
			continue
		}
		if _, dup := l.targets[op.e]; dup {
			continue
		}
		sa, family := sockaddr(op.e.target.ProbeAddr())
		l.fillSpare(family)
		t := &tcpTarget{e: op.e, sa: sa, family: family, when: now, due: now, fd: -1, first: true}
		l.targets[op.e] = t
		l.heap.push(t)
	}
}

// startBatch bounds how many probes the loop starts between two looks at
// its epoll set, so that a burst of due probes (start-up) neither delays the
// results of those in flight nor times them out unseen.
const startBatch = 64

// runDue fails the probes whose deadline is before now and starts the ones
// that are due, at most startBatch of them. It returns when the loop should
// next wake (-1: nothing scheduled) and whether work is left for now.
func (l *tcpLoop) runDue(now int64) (next int64, more bool) {
	started, polled := 0, false
	for len(l.heap) > 0 {
		t := l.heap[0]
		if t.when > now {
			return t.when, false
		}
		if t.fd >= 0 {
			// Before failing a probe for its deadline, take the results
			// already in: a loop woken late (its CPU taken by others) must
			// not time out handshakes that completed while it waited.
			if !polled {
				n := l.poll()
				l.handle(n)
				polled = n < len(l.events)
				continue
			}
			l.finish(t, errConnectTimeout, now)
			continue
		}
		if started == startBatch {
			return t.when, true
		}
		l.start(t)
		started++
	}
	return -1, false
}

// start starts t's probe.
func (l *tcpLoop) start(t *tcpTarget) {
	now := l.now()
	if !t.first && l.c.onLag != nil {
		l.c.onLag(t.e.target, time.Duration(now-t.due))
	}
	t.start = now
	fd, err := l.socket(t.family)
	t.spare = false
	if err != nil {
		if !errShortage(err) {
			l.finish(t, &ProbeError{Op: "connect", Err: os.NewSyscallError("socket", err)}, now)
			return
		}
		spare, ok := l.takeSpare(t.family)
		if !ok {
			l.finish(t, &ProbeError{Op: "connect", Err: os.NewSyscallError("socket", err)}, now)
			return
		}
		fd, t.spare = spare, true
	} else {
		l.fillSpare(t.family) // a descriptor was free: make up for spares lost
	}
	switch err := syscall.Connect(fd, t.sa); err {
	case nil:
		l.release(t.family, fd, t.spare)
		l.finish(t, nil, l.now())
		return
	case syscall.EINPROGRESS:
	default:
		l.release(t.family, fd, t.spare)
		l.finish(t, &ProbeError{Op: "connect", Err: err}, l.now())
		return
	}
	l.gen++
	ev := syscall.EpollEvent{Events: syscall.EPOLLOUT | syscall.EPOLLONESHOT, Fd: int32(fd), Pad: int32(l.gen)}
	if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		l.release(t.family, fd, t.spare)
		// The loop's own epoll set refused the socket (ENOMEM, or
		// max_user_watches): the checker's trouble, not the target's.
		l.finish(t, &ProbeError{Op: "connect", Err: &localError{os.NewSyscallError("epoll_ctl", err)}}, l.now())
		return
	}
	for fd >= len(l.byFD) {
		l.byFD = append(l.byFD, nil)
	}
	l.byFD[fd] = t
	t.fd, t.gen = fd, l.gen
	t.when = now + int64(t.e.target.Spec.Timeout)
	l.heap.fix(t)
}

// finish closes t's socket if it has one, records the result and schedules
// the next probe.
func (l *tcpLoop) finish(t *tcpTarget, err error, end int64) {
	l.closeSocket(t)
	next := l.c.record(t.e, err, time.Duration(end-t.start), false, t.first)
	t.first = false
	t.when = end + int64(next)
	t.due = t.when
	l.heap.fix(t)
}

// closeSocket closes the socket of t's probe in flight, if any. Closing
// also takes it out of the epoll set.
func (l *tcpLoop) closeSocket(t *tcpTarget) {
	if t.fd < 0 {
		return
	}
	l.byFD[t.fd] = nil
	l.release(t.family, t.fd, t.spare)
	t.fd, t.spare = -1, false
}

// socket opens a nonblocking TCP socket of family that closes with a RST.
func (l *tcpLoop) socket(family int) (int, error) {
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	_ = syscall.SetsockoptLinger(fd, syscall.SOL_SOCKET, syscall.SO_LINGER, &l.linger)
	return fd, nil
}

// fillSpare tops up the spare sockets of family, as far as descriptors
// allow.
func (l *tcpLoop) fillSpare(family int) {
	for len(l.spare[family]) < spareSockets {
		fd, err := l.socket(family)
		if err != nil {
			return
		}
		l.spare[family] = append(l.spare[family], fd)
	}
}

// takeSpare takes a spare socket of family, if one is left.
func (l *tcpLoop) takeSpare(family int) (int, bool) {
	s := l.spare[family]
	if len(s) == 0 {
		return -1, false
	}
	fd := s[len(s)-1]
	l.spare[family] = s[:len(s)-1]
	return fd, true
}

// unspec is a struct sockaddr of family AF_UNSPEC (0): connect() to it
// dissolves a TCP socket's association.
var unspec [syscall.SizeofSockaddrAny]byte

// release ends a probe's socket: a spare one is disconnected (AF_UNSPEC)
// and kept for the next shortage, any other closed. A spare that cannot be
// disconnected is closed; fillSpare replaces it when a descriptor frees up.
func (l *tcpLoop) release(family, fd int, spare bool) {
	if !spare {
		syscall.Close(fd)
		return
	}
	// Out of the epoll set: a new registration of this descriptor must
	// start clean (closing would have done this).
	_ = syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
	_, _, e := syscall.Syscall(syscall.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&unspec)), uintptr(len(unspec)))
	if e != 0 {
		syscall.Close(fd)
		return
	}
	l.spare[family] = append(l.spare[family], fd)
}

// shutdown closes every socket and the loop's own descriptors.
func (l *tcpLoop) shutdown() {
	for _, t := range l.targets {
		l.closeSocket(t)
	}
	for _, fds := range l.spare {
		for _, fd := range fds {
			syscall.Close(fd)
		}
	}
	l.mu.Lock()
	l.closed = true
	syscall.Close(l.evfd)
	l.mu.Unlock()
	l.ep.Close()
}

// tcpHeap is a binary min-heap of targets by when; each target knows its
// index, so a changed key is fixed in place in O(log n).
type tcpHeap []*tcpTarget

func (h *tcpHeap) push(t *tcpTarget) {
	t.idx = len(*h)
	*h = append(*h, t)
	h.up(t.idx)
}

func (h *tcpHeap) remove(t *tcpTarget) {
	s := *h
	i, last := t.idx, len(s)-1
	if i < 0 || i > last || s[i] != t {
		return
	}
	if i != last {
		s[i] = s[last]
		s[i].idx = i
	}
	s[last] = nil
	*h = s[:last]
	t.idx = -1
	if i != last {
		h.fix(s[i])
	}
}

func (h tcpHeap) fix(t *tcpTarget) {
	if !h.down(t.idx) {
		h.up(t.idx)
	}
}

func (h tcpHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h[p].when <= h[i].when {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h tcpHeap) down(i int) bool {
	start := i
	for {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		m := l
		if r := l + 1; r < len(h) && h[r].when < h[l].when {
			m = r
		}
		if h[i].when <= h[m].when {
			break
		}
		h.swap(i, m)
		i = m
	}
	return i > start
}

func (h tcpHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}

// sockaddr converts a to the syscall form.
func sockaddr(a netip.AddrPort) (syscall.Sockaddr, int) {
	ip := a.Addr()
	if ip.Is4() || ip.Is4In6() {
		return &syscall.SockaddrInet4{Port: int(a.Port()), Addr: ip.Unmap().As4()}, syscall.AF_INET
	}
	sa := &syscall.SockaddrInet6{Port: int(a.Port()), Addr: ip.As16()}
	if z := ip.Zone(); z != "" {
		if ifi, err := netInterfaceIndex(z); err == nil {
			sa.ZoneId = uint32(ifi)
		}
	}
	return sa, syscall.AF_INET6
}

// netInterfaceIndex resolves an IPv6 zone (an interface name or number).
func netInterfaceIndex(zone string) (int, error) {
	if n, err := strconv.Atoi(zone); err == nil {
		return n, nil
	}
	ifi, err := net.InterfaceByName(zone)
	if err != nil {
		return 0, err
	}
	return ifi.Index, nil
}

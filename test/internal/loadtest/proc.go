package loadtest

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is a child process (a server under test) whose output is kept.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	Out  *SyncBuffer
	done chan struct{}
}

// StartProc starts bin with args in dir, pinned to cpu with taskset (cpu <
// 0: not pinned). The child is killed if this program dies.
func StartProc(name, bin string, args []string, dir string, cpu int) (*Proc, error) {
	argv := append([]string{bin}, args...)
	if cpu >= 0 {
		argv = append([]string{"taskset", "-c", strconv.Itoa(cpu)}, argv...)
	}
	p := &Proc{Name: name, Out: &SyncBuffer{}, done: make(chan struct{})}
	p.Cmd = exec.Command(argv[0], argv[1:]...)
	p.Cmd.Dir = dir
	p.Cmd.Stdout, p.Cmd.Stderr = p.Out, p.Out
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.Cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() {
		_ = p.Cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Alive reports whether the process still runs.
func (p *Proc) Alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Stop sends SIGTERM, then SIGKILL after 5 s, and waits for the exit.
func (p *Proc) Stop() {
	if !p.Alive() {
		return
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.Cmd.Process.Kill()
		<-p.done
	}
}

// userHZ is the unit of the CPU times in /proc/PID/stat (USER_HZ, 100 on
// every Linux architecture Go supports).
const userHZ = 100

// CPUTime is the user plus system CPU time the process has used so far,
// all threads (taskset execs the server, so the PID is the server's).
func (p *Proc) CPUTime() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime (fields 14 and 15) of a /proc/PID/stat
// line; the command name in parentheses may hold spaces, so fields are
// counted after its closing parenthesis.
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed stat line")
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 { // fields 3.. after the name; utime is the 12th of them
		return 0, fmt.Errorf("stat line too short")
	}
	ut, err := strconv.ParseInt(f[11], 10, 64)
	if err != nil {
		return 0, err
	}
	st, err := strconv.ParseInt(f[12], 10, 64)
	if err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * time.Second / userHZ, nil
}

// RSS is the process's resident set size in bytes.
func (p *Proc) RSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	return parseVmRSS(string(b))
}

// parseVmRSS reads "VmRSS:	  123456 kB" from /proc/PID/status.
func parseVmRSS(status string) (int64, error) {
	for _, line := range strings.Split(status, "\n") {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("malformed VmRSS line %q", line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		return kb * 1024, err
	}
	return 0, fmt.Errorf("no VmRSS line")
}

// SyncBuffer collects a process's output for concurrent readers.
type SyncBuffer struct {
	mu      sync.Mutex
	b       strings.Builder
	watches []*watch
}

// watch waits for text to appear in output written from offset from on.
type watch struct {
	text string
	from int
	seen chan time.Time
}

// Write appends p and tells the watches whose text it completed.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.b.Write(p)
	s.check(now)
	return n, err
}

// check fires and drops the watches whose text is now in the buffer.
func (s *SyncBuffer) check(now time.Time) {
	if len(s.watches) == 0 {
		return
	}
	all := s.b.String()
	kept := s.watches[:0]
	for _, w := range s.watches {
		if i := strings.Index(all[w.from:], w.text); i >= 0 {
			w.seen <- now
			continue
		}
		// Text already searched cannot hold a match that ends before it;
		// resume just before its end.
		w.from = max(w.from, len(all)-len(w.text)+1)
		kept = append(kept, w)
	}
	s.watches = kept
}

// Len is how many bytes were written so far: an offset for Watch.
func (s *SyncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

// Watch returns a channel that receives the time of the write that made
// text appear in the output after offset from (at once if it is there
// already).
func (s *SyncBuffer) Watch(text string, from int) <-chan time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := &watch{text: text, from: min(from, s.b.Len()), seen: make(chan time.Time, 1)}
	s.watches = append(s.watches, w)
	s.check(time.Now())
	return w.seen
}

// String is everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Build runs go build for pkg into out and returns out.
func Build(pkg, out string) error {
	b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

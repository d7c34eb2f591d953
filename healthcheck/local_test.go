package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestIsLocal(t *testing.T) {
	emfile := &ProbeError{Op: "connect", Err: os.NewSyscallError("socket", syscall.EMFILE)}
	tests := []struct {
		name string
		err  error
		want bool
		kind string
	}{
		{"nil", nil, false, "other"},
		{"refused", &ProbeError{Op: "connect", Err: syscall.ECONNREFUSED}, false, "other"},
		{"timeout", errConnectTimeout, false, "other"},
		{"status", &ProbeError{Op: "http", Err: errors.New("status 503")}, false, "other"},
		{"socket EMFILE", emfile, true, "EMFILE"},
		{"dial ENFILE", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("socket", syscall.ENFILE)}, true, "ENFILE"},
		{"http EMFILE", &ProbeError{Op: "http", Err: &url.Error{Op: "Get", URL: "http://x/", Err: &net.OpError{Op: "dial", Err: os.NewSyscallError("socket", syscall.EMFILE)}}}, true, "EMFILE"},
		{"ENOBUFS", fmt.Errorf("write: %w", syscall.ENOBUFS), true, "ENOBUFS"},
		{"ENOMEM", syscall.ENOMEM, true, "ENOMEM"},
		{"no port", &ProbeError{Op: "connect", Err: syscall.EADDRNOTAVAIL}, true, "EADDRNOTAVAIL"},
		{"epoll", &ProbeError{Op: "connect", Err: &localError{os.NewSyscallError("epoll_ctl", syscall.ENOSPC)}}, true, "other"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsLocal(tc.err); got != tc.want {
				t.Errorf("IsLocal(%v) = %v, want %v", tc.err, got, tc.want)
			}
			if tc.want {
				if got := LocalErrorName(tc.err); got != tc.kind {
					t.Errorf("LocalErrorName(%v) = %q, want %q", tc.err, got, tc.kind)
				}
			}
		})
	}
	if got := emfile.Error(); got != "connect: too many open files" {
		t.Errorf("text %q", got)
	}
}

// TestRealEMFILE runs the real probes with the process out of file
// descriptors: their errors must be recognised as local.
func TestRealEMFILE(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := addrOf(t, ln.Addr())
	kinds := []Spec{{Kind: "tcp"}, {Kind: "http"}, {Kind: "dns", QName: "x.test"}, {Kind: "watch"}, {Kind: "tls", Insecure: true}}
	probers := make([]Prober, len(kinds))
	targets := make([]Target, len(kinds))
	for i, s := range kinds {
		targets[i] = Target{Addr: addr, Spec: new(s.WithDefaults())}
		p := builtinProbers()[s.Kind]
		if b, ok := p.(binder); ok {
			if p, err = b.bind(targets[i]); err != nil {
				t.Fatal(err)
			}
		}
		probers[i] = p
	}

	// Fill the descriptor table up to a low soft limit, then probe.
	_, restore := exhaustFDs(t)
	defer restore()
	for i, p := range probers {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		var err error
		if w, ok := p.(Watcher); ok {
			var s Session
			if s, err = w.Open(ctx, targets[i]); s != nil {
				s.Close()
			}
		} else {
			err = p.Check(ctx, targets[i])
		}
		cancel()
		if !IsLocal(err) {
			t.Errorf("%s probe out of descriptors: %v, want a local error", kinds[i].Kind, err)
		}
	}
}

// exhaustFDs lowers the process's soft open-files limit and fills the
// descriptor table up to it; free gives one descriptor back. The returned
// function restores everything.
func exhaustFDs(t *testing.T) (free func(), restore func()) {
	t.Helper()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	low := syscall.Rlimit{Cur: 512, Max: old.Max}
	if old.Max < low.Cur {
		low.Cur = old.Max
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	var held []*os.File
	for i := 0; i < int(low.Cur); i++ {
		f, err := os.Open(os.DevNull)
		if err != nil {
			if !errors.Is(err, syscall.EMFILE) {
				t.Fatalf("filling the table: %v", err)
			}
			break
		}
		held = append(held, f)
	}
	if _, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0); err != syscall.EMFILE {
		t.Fatalf("the table is not full: socket: %v", err)
	}
	free = func() {
		if n := len(held); n > 0 {
			held[n-1].Close()
			held = held[:n-1]
		}
	}
	restore = func() {
		for _, f := range held {
			f.Close()
		}
		held = nil
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
			t.Errorf("restoring the limit: %v", err)
		}
	}
	return free, restore
}

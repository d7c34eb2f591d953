package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// backend is one `hadns demo ADDR:PORT` child process: a real HTTP backend
// that the driver crashes with SIGKILL and starts again on its address.
type backend struct {
	bin, host, addr string

	mu   sync.Mutex
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

// startBackends starts one backend per host on a port free on all of them,
// retrying another port when one is taken.
func startBackends(ctx context.Context, bin string, hosts []string) (int, []*backend, error) {
	var lastErr error
	for attempt := 0; attempt < 8 && ctx.Err() == nil; attempt++ {
		l, err := net.Listen("tcp", net.JoinHostPort(hosts[0], "0"))
		if err != nil {
			return 0, nil, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		var bs []*backend
		lastErr = nil
		for _, h := range hosts {
			b := &backend{bin: bin, host: h, addr: net.JoinHostPort(h, fmt.Sprint(port))}
			if lastErr = b.start(ctx); lastErr != nil {
				break
			}
			bs = append(bs, b)
		}
		if lastErr == nil {
			return port, bs, nil
		}
		for _, b := range bs {
			b.kill()
		}
		if !strings.Contains(lastErr.Error(), "address already in use") {
			break
		}
	}
	if lastErr == nil {
		lastErr = context.Cause(ctx)
	}
	return 0, nil, lastErr
}

// start runs the backend and returns once it listens (at most 10 s).
func (b *backend) start(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.out = &syncBuffer{}
	b.done = make(chan struct{})
	b.cmd = exec.Command(b.bin, "demo", b.addr)
	b.cmd.Stdout, b.cmd.Stderr = b.out, b.out
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // dies with us
	if err := b.cmd.Start(); err != nil {
		close(b.done)
		return err
	}
	cmd, done := b.cmd, b.done
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	ready := "backend " + b.addr + " up"
	for i := 0; i < 2000; i++ { // 10 s
		if strings.Contains(b.out.String(), ready) {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("hadns demo %s exited: %s", b.addr, strings.TrimSpace(b.out.String()))
		case <-ctx.Done():
			i = 2000
		case <-time.After(5 * time.Millisecond):
		}
	}
	_ = cmd.Process.Kill()
	<-done
	return fmt.Errorf("hadns demo %s: not listening within 10s", b.addr)
}

// kill sends SIGKILL and waits until the process is gone. It does nothing
// to a backend that is not running.
func (b *backend) kill() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil || b.cmd.Process == nil {
		return
	}
	select {
	case <-b.done:
		return
	default:
	}
	_ = b.cmd.Process.Signal(syscall.SIGKILL)
	<-b.done
}

// server is the hadns process.
type server struct {
	addr string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

func (s *server) alive() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM, then SIGKILL after 5 s.
func (s *server) stop() {
	if s.alive() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	}
}

// startServer writes the zone and a Corefile (from corefile, a format with
// one %d for the port) into dir and starts hadns on a free loopback port,
// retrying on a port race; it returns when the server answers.
func startServer(ctx context.Context, bin, dir, zoneText, corefile string) (*server, error) {
	if err := os.WriteFile(filepath.Join(dir, zoneFile), []byte(zoneText), 0o644); err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 4 && ctx.Err() == nil; attempt++ {
		port, err := freeUDPTCPPort()
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, "Corefile"), []byte(fmt.Sprintf(corefile, port)), 0o644); err != nil {
			return nil, err
		}
		s := &server{addr: fmt.Sprintf("127.0.0.1:%d", port), out: &syncBuffer{}, done: make(chan struct{})}
		s.cmd = exec.Command(bin, "-conf", "Corefile")
		s.cmd.Dir = dir
		s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
		s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := s.cmd.Start(); err != nil {
			return nil, err
		}
		go func() {
			_ = s.cmd.Wait()
			close(s.done)
		}()
		m := new(dns.Msg)
		m.SetQuestion(zoneOrigin, dns.TypeSOA)
		cl := &dns.Client{Net: "udp", Timeout: 200 * time.Millisecond}
		for i := 0; i < 150 && s.alive() && ctx.Err() == nil; i++ { // ~15 s
			if _, _, err := cl.Exchange(m, s.addr); err == nil {
				return s, nil
			}
			time.Sleep(50 * time.Millisecond)
		}
		s.stop()
		lastErr = fmt.Errorf("hadns did not answer on %s:\n%s", s.addr, s.out.String())
		if !strings.Contains(s.out.String(), "address already in use") {
			break
		}
	}
	if lastErr == nil {
		lastErr = context.Cause(ctx)
	}
	return nil, lastErr
}

func freeUDPTCPPort() (int, error) {
	for i := 0; i < 20; i++ {
		u, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		u.Close()
		if err == nil {
			l.Close()
			return port, nil
		}
	}
	return 0, errors.New("no port free on both UDP and TCP")
}

// syncBuffer collects a process's output for concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

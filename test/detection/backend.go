package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// runBackend is the backend child process: it listens on 127.0.0.1:port,
// answers HTTP with 200 (mode http) or holds connections (mode tcp), and
// exits when killed or after limit.
func runBackend(mode string, port int, limit time.Duration) error {
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return err
	}
	fmt.Println("listening")
	go func() {
		time.Sleep(limit)
		os.Exit(0)
	}()
	if mode == "http" {
		srv := &http.Server{
			Handler:           http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }),
			ReadHeaderTimeout: 5 * time.Second,
		}
		return srv.Serve(ln)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			io.Copy(io.Discard, c) // hold until the peer goes
			c.Close()
		}()
	}
}

// backendProc is a running backend child.
type backendProc struct{ cmd *exec.Cmd }

// startBackend starts a backend child and waits until it listens.
func startBackend(mode string, port int, limit time.Duration) (*backendProc, error) {
	cmd := exec.Command("/proc/self/exe", "-backend="+mode, fmt.Sprint("-port=", port), "-limit="+limit.String())
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	buf := make([]byte, len("listening\n"))
	if _, err := io.ReadFull(out, buf); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("backend on port %d did not start: %w", port, err)
	}
	return &backendProc{cmd: cmd}, nil
}

// kill sends SIGKILL and returns when it was sent; reap collects the child.
func (b *backendProc) kill() error { return b.cmd.Process.Signal(syscall.SIGKILL) }
func (b *backendProc) reap()       { _ = b.cmd.Wait() }

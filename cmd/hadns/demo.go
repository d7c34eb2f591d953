package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

// exampleBackends are the backends of zones/example.test.yaml.
var exampleBackends = []string{
	"127.0.1.1:8080", "127.0.1.2:8080", "127.0.1.3:8080",
	"127.0.2.1:8080", "127.0.2.2:8080", "127.0.2.3:8080",
}

// demo runs HTTP backends that answer /healthz with 200, so the example zone
// has something to check. Typing "stop ADDR" or "start ADDR" on standard
// input closes or reopens one backend's listener: a stopped backend refuses
// connections, exactly like a crashed process.
func demo(args []string, stdin io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(out)
	var refuse refuseFrom
	fs.Var(&refuse, "refuse-from", "answer /healthz with 503 to checks from this source `ADDR` (repeatable): one checker cut off")
	fs.Usage = func() {
		fmt.Fprintf(out, "usage: hadns demo [-refuse-from ADDR]... [ADDR:PORT ...]\n\nServes /healthz on each address (default: the six backends of zones/example.test.yaml).\nOn standard input: stop ADDR:PORT, start ADDR:PORT, list, quit.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	addrs := fs.Args()
	if len(addrs) == 0 {
		addrs = exampleBackends
	}
	d := &demoSet{servers: map[string]*http.Server{}, out: out, refuse: refuse}
	for _, a := range addrs {
		if err := d.start(a); err != nil {
			d.stopAll()
			return err
		}
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	for {
		select {
		case <-ctx.Done():
			d.stopAll()
			return nil
		case line, ok := <-lines:
			if !ok {
				lines = nil // stdin closed: keep serving until a signal
				continue
			}
			if quit := d.command(line); quit {
				d.stopAll()
				return nil
			}
		}
	}
}

type demoSet struct {
	mu      sync.Mutex
	servers map[string]*http.Server
	out     io.Writer
	refuse  refuseFrom
}

func (d *demoSet) start(addr string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.servers[addr]; ok {
		return fmt.Errorf("%s is already running", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("demo backend %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if from, ok := d.refuse.refuses(r.RemoteAddr); ok {
			http.Error(w, "checks from "+from+" refused", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintf(w, "hello from %s\n", addr) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	d.servers[addr] = srv
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(d.out, "%s: %v\n", addr, err)
		}
	}()
	fmt.Fprintf(d.out, "backend %s up\n", addr)
	return nil
}

func (d *demoSet) stop(addr string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	srv, ok := d.servers[addr]
	if !ok {
		return fmt.Errorf("%s is not running", addr)
	}
	delete(d.servers, addr)
	srv.Close() // listener and connections closed: new connections are refused
	fmt.Fprintf(d.out, "backend %s stopped\n", addr)
	return nil
}

func (d *demoSet) stopAll() {
	d.mu.Lock()
	var addrs []string
	for a := range d.servers {
		addrs = append(addrs, a)
	}
	d.mu.Unlock()
	for _, a := range addrs {
		d.stop(a)
	}
}

// command runs one line of standard input and reports whether to quit.
func (d *demoSet) command(line string) bool {
	f := strings.Fields(line)
	if len(f) == 0 {
		return false
	}
	var err error
	switch {
	case f[0] == "quit" || f[0] == "exit":
		return true
	case f[0] == "list":
		d.mu.Lock()
		for a := range d.servers {
			fmt.Fprintf(d.out, "%s up\n", a)
		}
		d.mu.Unlock()
	case f[0] == "stop" && len(f) == 2:
		err = d.stop(f[1])
	case f[0] == "start" && len(f) == 2:
		err = d.start(f[1])
	default:
		err = fmt.Errorf("commands: stop ADDR:PORT, start ADDR:PORT, list, quit")
	}
	if err != nil {
		fmt.Fprintln(d.out, err)
	}
	return false
}

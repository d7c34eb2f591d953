// Command srvget fetches a URL through the client package: the URL's host
// is a service's SRV name, and every request goes to the first target that
// answers, failing over to the next on its own.
//
//	srvget [-ns ADDR] [-source IP] [-n COUNT] [-every DURATION] URL
//
// With the example zone and `hadns demo` running:
//
//	go run ./cmd/srvget -ns 127.0.0.1:1053 -source 127.0.1.100 -n 100 -every 200ms \
//	    http://_http._tcp.api.example.test/
//
// and stop backends in the demo to watch the requests move.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/hadns/hadns/client"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "srvget:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("srvget", flag.ContinueOnError)
	ns := fs.String("ns", "", "nameserver host:port (default: those of /etc/resolv.conf)")
	source := fs.String("source", "", "source address of DNS queries (hadns picks the client's site by it)")
	n := fs.Int("n", 1, "number of requests")
	every := fs.Duration("every", time.Second, "time between requests")
	timeout := fs.Duration("timeout", 5*time.Second, "time limit of one request")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: srvget [flags] URL   (URL host: an SRV name, e.g. http://_http._tcp.api.example.test/)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("one URL wanted")
	}
	url := fs.Arg(0)

	res := &client.Resolver{}
	if *ns != "" {
		res.Nameservers = []string{*ns}
	}
	if *source != "" {
		ip := net.ParseIP(*source)
		if ip == nil {
			return fmt.Errorf("-source %q: not an IP address", *source)
		}
		res.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			d := net.Dialer{LocalAddr: &net.UDPAddr{IP: ip}}
			if strings.HasPrefix(network, "tcp") {
				d.LocalAddr = &net.TCPAddr{IP: ip}
			}
			return d.DialContext(ctx, network, addr)
		}
	}
	hc := &http.Client{Transport: &client.Transport{Dialer: &client.Dialer{Resolver: res}}, Timeout: *timeout}

	failed := 0
	for i := 0; i < *n; i++ {
		if i > 0 {
			time.Sleep(*every)
		}
		t0 := time.Now()
		resp, err := hc.Get(url)
		if err != nil {
			failed++
			fmt.Fprintf(out, "%4d  error after %v: %v\n", i+1, time.Since(t0).Round(time.Microsecond), err)
			continue
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		line, _, _ := strings.Cut(string(body), "\n")
		if err != nil {
			line = "reading the body: " + err.Error()
		}
		fmt.Fprintf(out, "%4d  %s  %v  %s\n", i+1, resp.Status, time.Since(t0).Round(time.Microsecond), line)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d requests failed", failed, *n)
	}
	return nil
}

package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// runListeners is the child process: n listeners on 127.1.x.y, perAddr per
// address, on ports from 20000 up (below Linux's ephemeral range, so they do
// not eat the ports the checker connects from; port 0 if one is taken). It
// prints each address, then "ready", and serves until its stdin closes or
// limit passes.
func runListeners(n, perAddr int, kind string, limit time.Duration) error {
	w := bufio.NewWriter(os.Stdout)
	handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	for i := range n {
		a := i / perAddr
		ip := fmt.Sprintf("127.1.%d.%d", a/250, a%250+1)
		ln, err := net.Listen("tcp", fmt.Sprintf("%s:%d", ip, 20000+i%perAddr))
		if err != nil {
			if ln, err = net.Listen("tcp", ip+":0"); err != nil {
				return err
			}
		}
		fmt.Fprintln(w, ln.Addr())
		if kind == "http" {
			srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
			go srv.Serve(ln) //nolint:errcheck // ends with the process
			continue
		}
		go acceptAndClose(ln)
	}
	fmt.Fprintln(w, "ready")
	if err := w.Flush(); err != nil {
		return err
	}
	go func() {
		io.Copy(io.Discard, os.Stdin) // returns when the parent goes away
		os.Exit(0)
	}()
	time.Sleep(limit)
	return nil
}

// acceptAndClose takes connections off the queue so it never fills; the
// checker has already reset them.
func acceptAndClose(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

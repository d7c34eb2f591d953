package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hadns/hadns/internal/adminapi"
	hadns "github.com/hadns/hadns/plugin"
)

const ctlStoreUsage = `
Shared store (a hadns block with a store etcd line):
  zone push FILE          check FILE as hadns check does, then write it to the store: every instance serves it
  zone get ORIGIN         print the zone document the store holds
  zone delete ORIGIN      remove a zone from the store
  register SERVICE ADDR[:PORT] -site NAME [-ttl 10s] [-once]
                          add a backend to SERVICE until this command ends (renewed every ttl/3;
                          deregistered on SIGINT/SIGTERM; if it is killed, the backend leaves after ttl).
                          -once registers for one ttl and returns
  deregister SERVICE ADDR[:PORT]
                          remove a registered backend at once
`

// storeCmd runs the commands that talk to the shared store through the
// admin API. It reports false when cmd is not one of them.
func storeCmd(c *client, f ctlFlags, pos []string, stdout io.Writer, usage func(error) error) (bool, error) {
	switch pos[0] {
	case "zone":
		if len(pos) != 3 {
			return true, usage(errors.New("zone push FILE, zone get ORIGIN or zone delete ORIGIN"))
		}
		switch pos[1] {
		case "push":
			data, err := os.ReadFile(pos[2])
			if err != nil {
				return true, ctlError{exitUsage, err}
			}
			origin, err := hadns.CheckZoneDocument(pos[2], data)
			if err != nil {
				return true, ctlError{exitRefused, fmt.Errorf("not pushed:\n%v", err)}
			}
			body, err := c.do("PUT", "/v1/zones/"+url.PathEscape(origin), data)
			if err != nil {
				return true, err
			}
			return true, printOut(stdout, f.asJSON, body, func(m map[string]any) string {
				return fmt.Sprintf("zone %v pushed (revision %v)", m["zone"], m["revision"])
			})
		case "get":
			body, err := c.do("GET", "/v1/zones/"+url.PathEscape(pos[2]), nil)
			if err != nil {
				return true, err
			}
			_, err = stdout.Write(body)
			return true, err
		case "delete":
			body, err := c.do("DELETE", "/v1/zones/"+url.PathEscape(pos[2]), nil)
			if err != nil {
				return true, err
			}
			return true, printOut(stdout, f.asJSON, body, func(m map[string]any) string { return fmt.Sprintf("zone %v deleted", m["deleted"]) })
		}
		return true, usage(fmt.Errorf("unknown zone command %q", pos[1]))
	case "register", "deregister":
		if len(pos) != 3 {
			return true, usage(fmt.Errorf("%s SERVICE ADDR[:PORT]", pos[0]))
		}
		addr, port, err := parseBackendArg(pos[2])
		if err != nil {
			return true, usage(err)
		}
		if pos[0] == "deregister" {
			id := addr.String()
			if port != 0 {
				id = netip.AddrPortFrom(addr, port).String()
			}
			body, err := c.do("DELETE", "/v1/registrations/"+url.PathEscape(pos[1])+"/"+url.PathEscape(id), nil)
			if err != nil {
				return true, err
			}
			return true, printOut(stdout, f.asJSON, body, func(m map[string]any) string { return fmt.Sprintf("%v deregistered", m["deregistered"]) })
		}
		if f.site == "" {
			return true, usage(errors.New("register needs -site NAME"))
		}
		if f.ttl < time.Second {
			return true, usage(errors.New("-ttl must be at least 1s"))
		}
		req := adminapi.RegistrationRequest{Service: pos[1], Address: addr.String(), Port: port, Site: f.site, TTLSeconds: int((f.ttl + time.Second - 1) / time.Second)}
		data, _ := json.Marshal(req)
		return true, register(c, data, f, stdout)
	}
	return false, nil
}

// register posts the registration and, unless -once, renews it every
// third of its TTL until SIGINT or SIGTERM, then deregisters.
func register(c *client, data []byte, f ctlFlags, stdout io.Writer) error {
	body, err := c.do("POST", "/v1/registrations", data)
	if err != nil {
		return err
	}
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	if f.asJSON {
		stdout.Write(body)
	} else {
		fmt.Fprintf(stdout, "registered %v/%v for %vs\n", m["service"], m["backend"], m["ttl_seconds"])
	}
	if f.once {
		return nil
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	t := time.NewTicker(f.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-sig:
			_, err := c.do("DELETE", "/v1/registrations/"+url.PathEscape(fmt.Sprint(m["service"]))+"/"+url.PathEscape(fmt.Sprint(m["backend"])), nil)
			if err == nil {
				fmt.Fprintf(stdout, "deregistered %v/%v\n", m["service"], m["backend"])
			}
			return err
		case <-t.C:
			// A failed renewal is retried at the next tick: the lease
			// outlives two of them.
			if _, err := c.do("POST", "/v1/registrations", data); err != nil {
				fmt.Fprintln(os.Stderr, "hadns ctl: renewal:", err)
			}
		}
	}
}

// parseBackendArg reads ADDR or ADDR:PORT ([v6]:PORT).
func parseBackendArg(s string) (netip.Addr, uint16, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr(), ap.Port(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, 0, fmt.Errorf("%q is not ADDR or ADDR:PORT", s)
	}
	return a, 0, nil
}

// printOut prints the API's JSON with -json, else one line made from it.
func printOut(w io.Writer, asJSON bool, body []byte, line func(map[string]any) string) error {
	if asJSON {
		_, err := w.Write(body)
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return ctlError{exitRefused, err}
	}
	_, err := fmt.Fprintln(w, line(m))
	return err
}

// printStoreStatus prints the store line of `hadns ctl status`.
func printStoreStatus(w io.Writer, s *adminapi.StoreStatus) {
	if s == nil {
		return
	}
	state := "connected"
	if !s.Connected {
		state = "DISCONNECTED (serving the last known good data)"
		if s.LastError != "" {
			state += ": " + s.LastError
		}
	}
	if s.Stale {
		state += ", from the saved copy"
	}
	fmt.Fprintf(w, "store etcd %v: %s; instance %s, revision %d, lag %.1fs, %d zone(s), %d override(s), instances %v\n",
		s.Endpoints, state, s.Instance, s.Revision, s.LagSeconds, s.Zones, s.Overrides, s.Instances)
	for k, why := range s.Rejected {
		fmt.Fprintf(w, "  refused %s: %s\n", k, why)
	}
	fmt.Fprintln(w)
}

package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hadns/hadns/internal/adminapi"
)

// Exit codes of hadns ctl, for scripts.
const (
	exitOK          = 0
	exitRefused     = 1 // the server answered with an error (bad input, no match, auth)
	exitUsage       = 2 // the command line is wrong
	exitUnreachable = 3 // no answer from the admin API
)

const defaultAdminAddr = "127.0.0.1:8053"

const ctlUsage = `usage: hadns ctl [flags] COMMAND [BACKEND]

Talks to the admin API of a running hadns (the admin option of the Corefile).

Commands:
  status                  every service, site and backend: state, overrides, drain_safe_at, answers
  drain   SELECTOR        take backends out of the answers on purpose (they are still probed)
  undrain SELECTOR        remove a drain
  down    SELECTOR        force backends down
  up      SELECTOR        force backends up: handed out whatever the checker says
  clear   SELECTOR        remove any override set on SELECTOR

SELECTOR is a backend (127.0.1.1:8080, a bare address for every port of it, or
SERVICE/BACKEND like api.example.test/127.0.1.1:8080), or -site NAME, or
-glob PATTERN (over backend IDs, or over SERVICE/ID when it holds a slash).

Drain workflow: hadns ctl drain BACKEND; wait until hadns ctl status shows its
drain_safe_at has passed (no cache that honours TTLs still holds it); stop it.

Exit status: 0 done, 1 the server refused (the message says why), 2 usage,
3 the admin API did not answer.

Flags (before or after the command):
`

// ctlError carries an exit code.
type ctlError struct {
	code int
	err  error
}

func (e ctlError) Error() string { return e.err.Error() }

// ctl runs `hadns ctl ARGS` and returns the exit code.
func ctl(args []string, stdout, stderr io.Writer) int {
	if err := runCtl(args, stdout); err != nil {
		fmt.Fprintln(stderr, "hadns ctl:", err)
		var ce ctlError
		if errors.As(err, &ce) {
			return ce.code
		}
		return exitRefused
	}
	return exitOK
}

type ctlFlags struct {
	addr, tokenFile, caCert     string
	asJSON                      bool
	site, glob, reason, expires string
	by                          string
	timeout                     time.Duration
	ttl                         time.Duration // register: the registration's lease
	once                        bool          // register: no renewals
}

func runCtl(args []string, stdout io.Writer) error {
	var f ctlFlags
	fs := flag.NewFlagSet("ctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := os.Getenv("HADNS_ADMIN_ADDR")
	if addr == "" {
		addr = defaultAdminAddr
	}
	fs.StringVar(&f.addr, "addr", addr, "admin API address, HOST:PORT or https://HOST:PORT (env HADNS_ADMIN_ADDR)")
	fs.StringVar(&f.tokenFile, "token-file", "", "file holding the admin token (default: $HADNS_ADMIN_TOKEN)")
	fs.StringVar(&f.caCert, "cacert", "", "PEM file of the CA that signed the admin API's certificate (https)")
	fs.BoolVar(&f.asJSON, "json", false, "print the API's JSON instead of a table")
	fs.StringVar(&f.site, "site", "", "select every backend of a site")
	fs.StringVar(&f.glob, "glob", "", "select backends by pattern")
	fs.StringVar(&f.reason, "reason", "", "why (shown in status and logs)")
	fs.StringVar(&f.expires, "expires", "", "lift the override after a duration (30m) or at an RFC 3339 time")
	fs.StringVar(&f.by, "by", defaultBy(), "who asks (shown in status and logs)")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Second, "how long to wait for the API")
	fs.DurationVar(&f.ttl, "ttl", 10*time.Second, "register: how long the registration outlives its last renewal")
	fs.BoolVar(&f.once, "once", false, "register: register for one ttl and return, without renewing")
	usage := func(err error) error {
		var b strings.Builder
		b.WriteString(strings.Replace(ctlUsage, "\nExit status:", ctlStoreUsage+"\nExit status:", 1))
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		if err == nil {
			return ctlError{exitUsage, errors.New(b.String())}
		}
		return ctlError{exitUsage, fmt.Errorf("%v\n\n%s", err, b.String())}
	}
	// Flags may come before or after the command and its argument.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return usage(nil)
			}
			return usage(err)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) == 0 {
		return usage(errors.New("no command"))
	}
	c, err := newClient(f)
	if err != nil {
		return ctlError{exitUsage, err}
	}
	cmd := pos[0]
	if done, err := storeCmd(c, f, pos, stdout, usage); done {
		return err
	}
	switch cmd {
	case "status":
		if len(pos) != 1 {
			return usage(errors.New("status takes no argument"))
		}
		body, err := c.do("GET", "/v1/status", nil)
		if err != nil {
			return err
		}
		if f.asJSON {
			_, err := stdout.Write(body)
			return err
		}
		var doc adminapi.Status
		if err := json.Unmarshal(body, &doc); err != nil {
			return ctlError{exitRefused, fmt.Errorf("reading the status: %v", err)}
		}
		printStatus(stdout, &doc, time.Now())
		return nil
	case "drain", "undrain", "down", "up", "clear":
	default:
		return usage(fmt.Errorf("unknown command %q", cmd))
	}
	req := adminapi.OverrideRequest{Action: cmd, Site: f.site, Glob: f.glob, Reason: f.reason, Expires: f.expires, By: f.by}
	switch {
	case len(pos) == 2 && f.site == "" && f.glob == "":
		req.Backend = pos[1]
	case len(pos) == 1 && (f.site == "") != (f.glob == ""):
	default:
		return usage(fmt.Errorf("%s needs one selector: a BACKEND, -site NAME or -glob PATTERN", cmd))
	}
	data, _ := json.Marshal(req)
	body, err := c.do("POST", "/v1/overrides", data)
	if err != nil {
		return err
	}
	if f.asJSON {
		_, err := stdout.Write(body)
		return err
	}
	printChange(stdout, cmd, body)
	return nil
}

func defaultBy() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && name == "" {
		name = u.Username
	}
	if h, err := os.Hostname(); err == nil {
		return name + "@" + h
	}
	return name
}

// client calls the admin API.
type client struct {
	base  string
	token string
	http  *http.Client
}

func newClient(f ctlFlags) (*client, error) {
	c := &client{base: f.addr, http: &http.Client{Timeout: f.timeout}}
	if !strings.Contains(c.base, "://") {
		c.base = "http://" + c.base
	}
	c.base = strings.TrimSuffix(c.base, "/")
	c.token = strings.TrimSpace(os.Getenv("HADNS_ADMIN_TOKEN"))
	if f.tokenFile != "" {
		data, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("-token-file: %v", err)
		}
		c.token = strings.TrimSpace(string(data))
	}
	if f.caCert != "" {
		pem, err := os.ReadFile(f.caCert)
		if err != nil {
			return nil, fmt.Errorf("-cacert: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-cacert %s: no PEM certificate in it", f.caCert)
		}
		c.http.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	return c, nil
}

// do sends one request and returns the body of a 2xx reply; an error reply
// becomes an error with the server's message.
func (c *client) do(method, path string, body []byte) ([]byte, error) {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, ctlError{exitUsage, fmt.Errorf("-addr %s: %v", c.base, err)}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, ctlError{exitUnreachable, fmt.Errorf("admin API at %s: %v (is the admin option set in the Corefile?)", c.base, err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, ctlError{exitUnreachable, fmt.Errorf("admin API at %s: %v", c.base, err)}
	}
	if resp.StatusCode/100 != 2 {
		var e adminapi.Error
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(data))
		}
		hint := ""
		if resp.StatusCode == http.StatusUnauthorized && c.token == "" {
			hint = " (give -token-file or set HADNS_ADMIN_TOKEN)"
		}
		return nil, ctlError{exitRefused, fmt.Errorf("%s %s: %s: %s%s", method, path, resp.Status, e.Error, hint)}
	}
	return data, nil
}

func printStatus(w io.Writer, doc *adminapi.Status, now time.Time) {
	if !doc.Ready {
		fmt.Fprintln(w, "NOT READY: the first health checks are still running")
	}
	printStoreStatus(w, doc.Store)
	for _, z := range doc.Zones {
		fmt.Fprintf(w, "zone %s\n", z.Zone)
		for _, s := range z.Services {
			budget := ""
			if s.Failover.BudgetSeconds > 0 {
				budget = fmt.Sprintf(", budget %gs", s.Failover.BudgetSeconds)
			}
			fmt.Fprintf(w, "\nservice %s (worst-case failover %.1fs%s)\n", s.Name, s.Failover.BoundSeconds, budget)
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "  SITE\tBACKEND\tSTATE\tSINCE\tOVERRIDE\tDRAIN SAFE AT\tLAST ERROR")
			for _, b := range s.Backends {
				since := "-"
				if !b.Since.IsZero() {
					since = ago(now, b.Since)
				}
				ov := "-"
				if b.Override != nil {
					ov = b.Override.Action
					if b.Override.By != "" {
						ov += " by " + b.Override.By
					}
				}
				safe := "-"
				switch {
				case b.DrainPending:
					safe = "pending: still in an answer"
				case len(b.SetDrainPending) > 0:
					safe = "pending: not yet reported by " + strings.Join(b.SetDrainPending, ", ")
				case b.DrainSafeAt != nil:
					at := *b.DrainSafeAt
					if b.SetDrainSafeAt != nil {
						at = *b.SetDrainSafeAt // the whole nameserver set's
					}
					safe = at.Local().Format(time.RFC3339)
					if d := at.Sub(now); d > 0 {
						safe += fmt.Sprintf(" (in %s)", d.Round(time.Second))
					} else {
						safe += " (passed: safe to stop)"
					}
				}
				state := b.State
				if b.Checker != "" && b.Checker != b.State && b.Override != nil {
					state += " (checker: " + b.Checker + ")"
				}
				lastErr := b.LastError
				if lastErr == "" {
					lastErr = "-"
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", b.Site, b.ID, state, since, ov, safe, lastErr)
			}
			tw.Flush()
			for _, a := range s.Answers {
				var parts []string
				deg := ""
				for _, x := range []adminapi.AnswerStatus{a.A, a.AAAA} {
					if len(x.Addresses) > 0 {
						parts = append(parts, fmt.Sprintf("%s ttl %d", strings.Join(x.Addresses, " "), x.TTL))
					}
					if x.Degraded != "" && deg == "" {
						deg = "  [" + x.Degraded + "]"
					}
				}
				if len(parts) == 0 {
					parts = append(parts, a.A.Result)
				}
				fmt.Fprintf(w, "  clients of %s get: %s%s\n", a.Site, strings.Join(parts, "; "), deg)
			}
		}
		fmt.Fprintln(w)
	}
	if len(doc.Overrides) == 0 {
		fmt.Fprintln(w, "overrides: none")
		return
	}
	fmt.Fprintln(w, "overrides:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  ID\tACTION\tSELECTOR\tBY\tREASON\tEXPIRES\tMATCHES")
	for _, o := range doc.Overrides {
		exp := "never"
		if !o.Expires.IsZero() {
			exp = o.Expires.Local().Format(time.RFC3339)
		}
		m := strings.Join(o.Matched, " ")
		if o.Unmatched {
			m = "nothing now (kept: the backend may come back)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", o.ID, o.Action, o.Selector(), dash(o.By), dash(o.Reason), exp, m)
	}
	tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func ago(now, t time.Time) string {
	d := now.Sub(t).Round(time.Second)
	if d < 0 {
		d = 0
	}
	return d.String() + " ago"
}

func printChange(w io.Writer, cmd string, body []byte) {
	var r adminapi.Change
	_ = json.Unmarshal(body, &r)
	if r.Override != nil {
		fmt.Fprintf(w, "%s %s (override id %s): %s\n", cmd, r.Override.Selector(), r.Override.ID, strings.Join(r.Matched, " "))
		if r.Replaced != nil {
			fmt.Fprintf(w, "replaces the %s set by %s (id %s)\n", r.Replaced.Action, dash(r.Replaced.By), r.Replaced.ID)
		}
		if cmd == "drain" {
			fmt.Fprintln(w, "out of the answers now; `hadns ctl status` shows when caches have let go (DRAIN SAFE AT)")
		}
		return
	}
	for _, o := range r.Cleared {
		fmt.Fprintf(w, "cleared %s %s (id %s)\n", o.Action, o.Selector(), o.ID)
	}
}

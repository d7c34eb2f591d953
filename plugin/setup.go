package hadns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/miekg/dns"

	"github.com/hadns/hadns/internal/admin"
	"github.com/hadns/hadns/internal/fileerr"
	"github.com/hadns/hadns/internal/ops"
	"github.com/hadns/hadns/internal/sites"
	"github.com/hadns/hadns/internal/zone"
)

var log = clog.NewWithPlugin(pluginName)

func init() { plugin.Register(pluginName, setup) }

// config is the parsed hadns block of a Corefile.
type config struct {
	origins        []string      // zones this block may answer for (args or server block keys)
	files          []string      // zone files (`zone FILE`)
	dirs           []string      // folders of zone files (`zones DIR`)
	reload         time.Duration // how often files are checked for changes; default 2s, 0 disables
	sites          []sites.Config
	defaultOrder   []string
	defaultOrderAt fileerr.Position
	startupTimeout time.Duration // readiness waits at most this long for first results; default 5s
	admin          *admin.Config // the admin HTTP API; nil: off
	state          string        // override state file; "": overrides live in memory only
	stateAt        fileerr.Position
	dnssec         *dnssecConfig // signing keys by zone; nil: nothing is signed
	store          *storeConfig  // the nameserver set's shared store; nil: none
	probeSource    probeSources  // `probe_source`: where probes are sent from; default the kernel's choice
}

const (
	defaultReload         = 2 * time.Second
	defaultStartupTimeout = 5 * time.Second
)

func setup(c *caddy.Controller) error {
	h, cfg, err := parse(c)
	if err != nil {
		return plugin.Error(pluginName, err)
	}
	if cfg.state != "" {
		// Found now, not when the first override fails to save.
		if err := ops.CheckStateDir(cfg.state); err != nil {
			return plugin.Error(pluginName, cfg.stateAt.Errorf("state %s: %v", cfg.state, err))
		}
	}
	snap, err := load(cfg)
	if err != nil {
		return plugin.Error(pluginName, err)
	}
	reportFastPath()
	requireGeoPlugins(c, cfg)
	e := newEngine(h, cfg, snap, processPool)
	c.OnStartup(e.start)
	c.OnShutdown(e.stop)
	// These run on this instance when it is the one serving and a Corefile
	// reload starts the next: caddy drops a next instance that fails after
	// its OnStartup hooks ran without calling its OnShutdown, so it is this
	// one that stops the other's engines (as CoreDNS's metrics and ready
	// plugins repair their state on OnRestartFailed).
	c.OnRestart(processPool.beginRestart)
	c.OnRestartFailed(processPool.abortRestart)
	// No opcode beyond QUERY and NOTIFY is allowed in (AllowOpcode): miekg/dns
	// answers the others NOTIMP with the opcode echoed, as RFC 1035 4.1.1,
	// RFC 3425 (IQUERY) and RFC 8490 (DSO) ask. An allowed opcode would let
	// CoreDNS answer every such message without exactly one question (a
	// header-only one, IQUERY, DSO) FORMERR with the opcode reset to QUERY,
	// which clients discard.
	dnsserver.GetConfig(c).AddPlugin(func(next plugin.Handler) plugin.Handler {
		h.Next = next
		return h
	})
	return nil
}

// parse reads the hadns block:
//
//	hadns [ZONES...] {
//	    zone FILE
//	    zones DIR
//	    reload DURATION
//	    site NAME [CIDR...] [fallback SITE...]
//	    default_order SITE...
//	    startup_timeout DURATION
//	    fallthrough [ZONES...]
//	    admin ADDR
//	    admin_token_file FILE
//	    admin_tls CERT KEY
//	    admin_insecure
//	    admin_hosts NAME...
//	    state FILE
//	    dnssec ZONE KEY... [publish KEY...]
//	    dnssec_validity DURATION
//	    dnssec_refresh DURATION
//	    store etcd ENDPOINT... { ... }   (see parseStore)
//	    probe_source ADDR [ADDR]
//	}
//
// It goes on after a bad line, so `hadns check` can report every problem;
// the error it returns is a parseErrors whose message is the first one's,
// the one setup fails with. The config holds whatever parsed.
func parse(c *caddy.Controller) (*Hadns, *config, error) {
	h := &Hadns{}
	cfg := &config{reload: defaultReload, startupTimeout: defaultStartupTimeout}
	root := dnsserver.GetConfig(c).Root
	path := func(p string) string {
		if filepath.IsAbs(p) || root == "" {
			return p
		}
		return filepath.Join(root, p)
	}
	var errs parseErrors
	var adm adminOptions
	var sec dnssecOptions
	i := 0
	for c.Next() {
		if i > 0 {
			if c.Val() != pluginName {
				// A property followed by a block of its own ends ours early;
				// its tokens are not a second hadns directive.
				return h, cfg, append(errs, c.Errf("unexpected %q: hadns properties take no blocks", c.Val()))
			}
			return h, cfg, append(errs, plugin.ErrOnce)
		}
		i++
		cfg.origins = plugin.OriginsFromArgsOrServerBlock(c.RemainingArgs(), c.ServerBlockKeys)
		for c.NextBlock() {
			switch c.Val() {
			case "zone":
				args := c.RemainingArgs()
				if len(args) != 1 {
					errs = append(errs, c.ArgErr())
					continue
				}
				cfg.files = append(cfg.files, path(args[0]))
			case "zones":
				args := c.RemainingArgs()
				if len(args) != 1 {
					errs = append(errs, c.ArgErr())
					continue
				}
				cfg.dirs = append(cfg.dirs, path(args[0]))
			case "reload":
				d, err := durationArg(c)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				cfg.reload = d
			case "startup_timeout":
				d, err := durationArg(c)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				cfg.startupTimeout = d
			case "site":
				s, err := parseSite(c)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				cfg.sites = append(cfg.sites, s)
			case "default_order":
				cfg.defaultOrderAt = fileerr.Position{File: c.File(), Line: c.Line()}
				cfg.defaultOrder = c.RemainingArgs()
				if len(cfg.defaultOrder) == 0 {
					errs = append(errs, c.ArgErr())
				}
			case "fallthrough":
				h.Fall.SetZonesFromArgs(c.RemainingArgs())
			case "admin", "admin_token_file", "admin_tls", "admin_insecure", "admin_hosts":
				if err := adm.parse(c, path); err != nil {
					errs = append(errs, err)
				}
			case "dnssec", "dnssec_validity", "dnssec_refresh":
				if err := sec.parse(c, path); err != nil {
					errs = append(errs, err)
				}
			case "store":
				sc, err := parseStore(c, path)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				cfg.store = sc
			case "probe_source":
				ps, err := parseProbeSource(c)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				cfg.probeSource = ps
			case "state":
				args := c.RemainingArgs()
				if len(args) != 1 {
					errs = append(errs, c.ArgErr())
					break
				}
				cfg.state = path(args[0])
				cfg.stateAt = fileerr.Position{File: c.File(), Line: c.Line()}
			default:
				errs = append(errs, c.Errf("unknown property %q", c.Val()))
				skipProperty(c)
			}
		}
	}
	if len(cfg.files) == 0 && len(cfg.dirs) == 0 && cfg.store == nil {
		errs = append(errs, c.Err("no zone files: add `zone FILE` or `zones DIR` (or a `store` line to serve the store's zones)"))
	}
	a, err := adm.config(c)
	if err != nil {
		errs = append(errs, err)
	}
	cfg.admin = a
	if cfg.dnssec, err = sec.config(); err != nil {
		errs = append(errs, err)
	}
	h.dnssec = cfg.dnssec
	if cfg.store != nil {
		cfg.store.finish(cfg.state)
	}
	if len(errs) > 0 {
		return h, cfg, errs
	}
	return h, cfg, nil
}

// parseErrors is every problem parse found, in order, each in caddy's
// "FILE:LINE - Error during parsing: ..." form. Its message is the first
// problem's, so start-up fails as it always did; `hadns check` lists them all.
type parseErrors []error

func (e parseErrors) Error() string { return e[0].Error() }

// Unwrap lets errors.Is see every problem (plugin.ErrOnce among them).
func (e parseErrors) Unwrap() []error { return e }

// skipProperty moves past the rest of a property that was not understood:
// its arguments and a { } block if it has one, so parsing resumes at the
// next property rather than inside it.
func skipProperty(c *caddy.Controller) {
	c.RemainingArgs()
	if !c.NextArg() || c.Val() != "{" {
		return
	}
	for depth := 1; depth > 0 && c.Next(); {
		switch c.Val() {
		case "{":
			depth++
		case "}":
			depth--
		}
	}
}

func durationArg(c *caddy.Controller) (time.Duration, error) {
	name := c.Val()
	args := c.RemainingArgs()
	if len(args) != 1 {
		return 0, c.ArgErr()
	}
	d, err := time.ParseDuration(args[0])
	if err != nil || d < 0 {
		return 0, c.Errf("%s: %q is not a duration like 2s", name, args[0])
	}
	return d, nil
}

// zoneFiles lists the files of cfg: the named ones, then every *.yaml and
// *.yml in the named folders, sorted. A folder with none is an error, but
// the files of the others are still listed.
func zoneFiles(cfg *config) ([]string, error) {
	files := append([]string(nil), cfg.files...)
	var errs fileerr.ErrorList
	for _, d := range cfg.dirs {
		var found []string
		for _, pat := range []string{"*.yaml", "*.yml"} {
			m, err := filepath.Glob(filepath.Join(d, pat))
			if err != nil {
				return nil, err
			}
			found = append(found, m...)
		}
		if len(found) == 0 {
			errs = append(errs, fileerr.FileError{File: d, Msg: "zones: no *.yaml or *.yml files in this folder"})
		}
		files = append(files, found...)
	}
	if len(errs) > 0 {
		return files, errs
	}
	return files, nil
}

// load reads every zone file of cfg and builds a snapshot with initial
// answers. Every problem in every file is reported, not only the first, and
// the sites are checked even when a file failed, so one run shows them all.
func load(cfg *config) (*snapshot, error) { return loadWith(cfg, nil) }

// loadWith is load with the contents of some files already read (by the
// reload tick that saw them settle), so what loads is what was checked.
func loadWith(cfg *config, contents map[string][]byte) (*snapshot, error) {
	files, err := zoneFiles(cfg)
	var errs fileerr.ErrorList
	if err != nil {
		var list fileerr.ErrorList
		if !errors.As(err, &list) {
			return nil, err
		}
		errs = append(errs, list...)
	}
	zones := map[string]*zone.Zone{}
	var backendSites []string
	for _, f := range files {
		z, err := loadZone(f, contents)
		if err != nil {
			errs = append(errs, err.(fileerr.ErrorList)...)
			continue
		}
		if cfg.store == nil {
			// Only a shared store's registrations rebuild a file zone
			// from its text (store_zones.go): without one, keeping it
			// would double a big zone's memory for nothing.
			z.DropSource()
		}
		if other, dup := zones[z.Origin()]; dup {
			errs = append(errs, fileerr.FileError{File: f, Msg: fmt.Sprintf("zone %s is also defined in %s", z.Origin(), other.File())})
			continue
		}
		if !originServed(z.Origin(), cfg.origins) {
			errs = append(errs, fileerr.FileError{File: f, Msg: fmt.Sprintf("zone %s is not inside this server block's zones (%s)", z.Origin(), strings.Join(cfg.origins, " "))})
			continue
		}
		zones[z.Origin()] = z
		for _, s := range z.Services() {
			for _, b := range s.Backends() {
				if len(cfg.sites) > 0 && !slices.ContainsFunc(cfg.sites, func(sc sites.Config) bool { return sc.Name == b.Site() }) {
					errs = append(errs, fileerr.FileError{File: s.File(), Line: b.Line(), Msg: fmt.Sprintf("service %s: backend %s names site %q, which no site line in the Corefile defines", s.Name(), b.ID(), b.Site())})
					continue
				}
				if !slices.Contains(backendSites, b.Site()) {
					backendSites = append(backendSites, b.Site())
				}
			}
		}
	}
	st, err := sites.New(cfg.sites, cfg.defaultOrder, cfg.defaultOrderAt, backendSites)
	if err != nil {
		errs = append(errs, err.(fileerr.ErrorList)...)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	snap := &snapshot{zones: zones, sites: st}
	return snap, nil
}

// loadZone parses f from contents if it is there, else from disk.
func loadZone(f string, contents map[string][]byte) (*zone.Zone, error) {
	data, ok := contents[f]
	if !ok {
		return zone.Load(f)
	}
	var mtime time.Time
	if fi, err := os.Stat(f); err == nil {
		mtime = fi.ModTime()
	}
	return zone.Parse(f, data, mtime)
}

func originServed(origin string, served []string) bool {
	for _, s := range served {
		if dns.IsSubDomain(s, origin) {
			return true
		}
	}
	return false
}

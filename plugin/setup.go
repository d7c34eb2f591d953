package hadns

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/miekg/dns"
)

var log = clog.NewWithPlugin(pluginName)

func init() { plugin.Register(pluginName, setup) }

// config is the parsed hadns block of a Corefile.
type config struct {
	origins        []string      // zones this block may answer for (args or server block keys)
	files          []string      // zone files (`zone FILE`)
	dirs           []string      // folders of zone files (`zones DIR`)
	reload         time.Duration // how often files are checked for changes; default 2s, 0 disables
	sites          []siteConfig
	defaultOrder   []string
	startupTimeout time.Duration // readiness waits at most this long for first results; default 5s
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
	snap, err := load(cfg)
	if err != nil {
		return plugin.Error(pluginName, err)
	}
	e := newEngine(h, cfg, snap, processPool)
	c.OnStartup(e.start)
	c.OnShutdown(e.stop)
	// Let every opcode reach the plugin: miekg/dns would answer NOTIMP itself,
	// without the OPT record RFC 6891 asks for.
	for op := range 16 {
		if op != dns.OpcodeQuery && op != dns.OpcodeNotify {
			dnsserver.GetConfig(c).AllowOpcode(op)
		}
	}
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
//	}
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
	i := 0
	for c.Next() {
		if i > 0 {
			if c.Val() != pluginName {
				// A property followed by a block of its own ends ours early;
				// its tokens are not a second hadns directive.
				return nil, nil, c.Errf("unexpected %q: hadns properties take no blocks", c.Val())
			}
			return nil, nil, plugin.ErrOnce
		}
		i++
		cfg.origins = plugin.OriginsFromArgsOrServerBlock(c.RemainingArgs(), c.ServerBlockKeys)
		for c.NextBlock() {
			switch c.Val() {
			case "zone":
				args := c.RemainingArgs()
				if len(args) != 1 {
					return nil, nil, c.ArgErr()
				}
				cfg.files = append(cfg.files, path(args[0]))
			case "zones":
				args := c.RemainingArgs()
				if len(args) != 1 {
					return nil, nil, c.ArgErr()
				}
				cfg.dirs = append(cfg.dirs, path(args[0]))
			case "reload":
				d, err := durationArg(c)
				if err != nil {
					return nil, nil, err
				}
				cfg.reload = d
			case "startup_timeout":
				d, err := durationArg(c)
				if err != nil {
					return nil, nil, err
				}
				cfg.startupTimeout = d
			case "site":
				s, err := parseSite(c)
				if err != nil {
					return nil, nil, err
				}
				cfg.sites = append(cfg.sites, s)
			case "default_order":
				cfg.defaultOrder = c.RemainingArgs()
				if len(cfg.defaultOrder) == 0 {
					return nil, nil, c.ArgErr()
				}
			case "fallthrough":
				h.Fall.SetZonesFromArgs(c.RemainingArgs())
			default:
				return nil, nil, c.Errf("unknown property %q", c.Val())
			}
		}
	}
	if len(cfg.files) == 0 && len(cfg.dirs) == 0 {
		return nil, nil, c.Err("no zone files: add `zone FILE` or `zones DIR`")
	}
	return h, cfg, nil
}

func durationArg(c *caddy.Controller) (time.Duration, error) {
	args := c.RemainingArgs()
	if len(args) != 1 {
		return 0, c.ArgErr()
	}
	d, err := time.ParseDuration(args[0])
	if err != nil || d < 0 {
		return 0, c.Errf("%s: %q is not a duration like 2s", c.Val(), args[0])
	}
	return d, nil
}

// parseSite reads `site NAME [CIDR...] [fallback SITE...]`.
func parseSite(c *caddy.Controller) (siteConfig, error) {
	args := c.RemainingArgs()
	if len(args) == 0 {
		return siteConfig{}, c.ArgErr()
	}
	s := siteConfig{name: args[0]}
	if !validSiteName(s.name) {
		return s, c.Errf("site name %q: use letters, digits, - and _", s.name)
	}
	rest := args[1:]
	for i, a := range rest {
		if a == "fallback" {
			s.fallback = rest[i+1:]
			if len(s.fallback) == 0 {
				return s, c.Errf("site %s: fallback needs at least one site", s.name)
			}
			break
		}
		p, err := netip.ParsePrefix(a)
		if err != nil {
			return s, c.Errf("site %s: %q is not a network like 192.0.2.0/24 or 2001:db8::/48", s.name, a)
		}
		if p.Masked() != p {
			return s, c.Errf("site %s: network %s has host bits set (did you mean %s?)", s.name, p, p.Masked())
		}
		s.networks = append(s.networks, p)
	}
	return s, nil
}

func validSiteName(s string) bool {
	if s == "" || s == "fallback" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// zoneFiles lists the files of cfg: the named ones, then every *.yaml and
// *.yml in the named folders, sorted.
func zoneFiles(cfg *config) ([]string, error) {
	files := append([]string(nil), cfg.files...)
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
			return nil, fmt.Errorf("zones %s: no *.yaml or *.yml files", d)
		}
		files = append(files, found...)
	}
	return files, nil
}

// load reads every zone file of cfg and builds a snapshot with initial
// answers. Every problem in every file is reported, not only the first.
func load(cfg *config) (*snapshot, error) {
	files, err := zoneFiles(cfg)
	if err != nil {
		return nil, err
	}
	var errs ErrorList
	zones := map[string]*Zone{}
	var backendSites []string
	for _, f := range files {
		z, err := LoadZoneFile(f)
		if err != nil {
			errs = append(errs, err.(ErrorList)...)
			continue
		}
		if other, dup := zones[z.origin]; dup {
			errs = append(errs, FileError{File: f, Msg: fmt.Sprintf("zone %s is also defined in %s", z.origin, other.file)})
			continue
		}
		if !originServed(z.origin, cfg.origins) {
			errs = append(errs, FileError{File: f, Msg: fmt.Sprintf("zone %s is not inside this server block's zones (%s)", z.origin, strings.Join(cfg.origins, " "))})
			continue
		}
		zones[z.origin] = z
		for _, s := range z.services {
			for _, b := range s.backends {
				if !slices.Contains(backendSites, b.site) {
					backendSites = append(backendSites, b.site)
				}
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	sites, err := newSiteTable(cfg.sites, cfg.defaultOrder, backendSites)
	if err != nil {
		return nil, err
	}
	snap := &snapshot{zones: zones, sites: sites}
	return snap, nil
}

func originServed(origin string, served []string) bool {
	for _, s := range served {
		if dns.IsSubDomain(s, origin) {
			return true
		}
	}
	return false
}

package hadns

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/coredns/caddy"

	"github.com/hadns/hadns/internal/fileerr"
	"github.com/hadns/hadns/internal/store"
)

// storeConfig is the parsed `store etcd ENDPOINT... { ... }` property: the
// shared store of a nameserver set. nil in config means no store, and hadns
// runs from files and its local state file alone.
type storeConfig struct {
	cfg store.Config
	at  fileerr.Position
	// key names the store among the process's: two blocks (or a reloaded
	// Corefile) with the same settings share one client and one watch.
	key string
}

// defaultCacheName is the last-known-good copy's file name when no
// cache_file is given: next to the state file, else in the working folder.
const defaultCacheName = "hadns-store.json"

// parseStore reads
//
//	store etcd ENDPOINT... {
//	    prefix PREFIX            # default /hadns/v1/
//	    tls CERT KEY             # client certificate; default none
//	    tls_ca CA                # CA of etcd's server certificates; default system roots
//	    username USER            # with password_file; default no authentication
//	    password_file FILE
//	    dial_timeout DURATION    # default 5s
//	    cache_file FILE          # default hadns-store.json next to the state file
//	    instance NAME            # default the host name
//	    instance_ttl DURATION    # default 10s
//	}
//
// and checks it with the store's own validation, so a bad value fails at
// start-up naming the Corefile line.
func parseStore(c *caddy.Controller, path func(string) string) (*storeConfig, error) {
	sc := &storeConfig{at: fileerr.Position{File: c.File(), Line: c.Line()}}
	args := c.RemainingArgs()
	if len(args) < 2 || args[0] != "etcd" {
		err := c.Errf("store: want `store etcd ENDPOINT...` (etcd is the only store)")
		skipProperty(c)
		return nil, err
	}
	sc.cfg.Endpoints = args[1:]
	seen := map[string]bool{}
	// The first problem is returned once the whole block is read, so the
	// hadns block's parse resumes after it.
	var first error
	for c.NextBlock() {
		if err := storeOption(c, path, &sc.cfg, seen); err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return nil, first
	}
	if err := sc.cfg.Validate(); err != nil {
		return nil, sc.at.Errorf("%v", err)
	}
	return sc, nil
}

// storeOption reads one option of the store block into cfg.
func storeOption(c *caddy.Controller, path func(string) string, cfg *store.Config, seen map[string]bool) error {
	opt := c.Val()
	if seen[opt] {
		c.RemainingArgs()
		return c.Errf("store: %s given twice", opt)
	}
	seen[opt] = true
	a := c.RemainingArgs()
	one := func() (string, error) {
		if len(a) != 1 {
			return "", c.ArgErr()
		}
		return a[0], nil
	}
	var err error
	var v string
	switch opt {
	case "prefix":
		cfg.Prefix, err = one()
	case "tls":
		if len(a) != 2 {
			return c.ArgErr()
		}
		cfg.CertFile, cfg.KeyFile = path(a[0]), path(a[1])
	case "tls_ca":
		if v, err = one(); err == nil {
			cfg.CAFile = path(v)
		}
	case "username":
		cfg.Username, err = one()
	case "password_file":
		if v, err = one(); err == nil {
			var data []byte
			if data, err = os.ReadFile(path(v)); err != nil {
				return c.Errf("store: password_file: %v", err)
			}
			cfg.Password = strings.TrimSpace(string(data))
			if cfg.Password == "" {
				return c.Errf("store: password_file %s is empty", path(v))
			}
		}
	case "dial_timeout", "instance_ttl":
		if v, err = one(); err == nil {
			d, perr := time.ParseDuration(v)
			if perr != nil || d <= 0 {
				return c.Errf("store: %s: %q is not a duration like 5s", opt, v)
			}
			if opt == "dial_timeout" {
				cfg.DialTimeout = d
			} else {
				cfg.InstanceTTL = d
			}
		}
	case "cache_file":
		if v, err = one(); err == nil {
			cfg.CacheFile = path(v)
		}
	case "instance":
		cfg.Instance, err = one()
	default:
		return c.Errf("store: unknown option %q", opt)
	}
	return err
}

// finish fills in what depends on the rest of the block: the cache file's
// default place. It returns the config the store is made with.
func (sc *storeConfig) finish(state string) {
	if sc.cfg.CacheFile == "" {
		dir := "."
		if state != "" {
			dir = filepath.Dir(state)
		}
		sc.cfg.CacheFile = filepath.Join(dir, defaultCacheName)
	}
	c := sc.cfg
	sc.key = strings.Join([]string{strings.Join(c.Endpoints, ","), c.Prefix, c.CertFile, c.KeyFile, c.CAFile,
		c.Username, c.Password, c.DialTimeout.String(), c.CacheFile, c.Instance, c.InstanceTTL.String()}, "\x00")
}

package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/coredns/caddy/caddyfile"
	"github.com/miekg/dns"
)

// dnssecCmd runs `hadns dnssec ds [-ttl N] [-conf FILE | KEY...]`: it prints
// the DS record of each KSK (a key with the SEP flag, 257) for the parent
// zone, SHA-256 digest, one per line in zone-file format. The keys are the
// base names of BIND key files (only the public .key is read), or, with
// -conf, every KSK named on a `dnssec ZONE KEY...` line of the Corefile's
// hadns blocks. It returns the exit code.
func dnssecCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "ds" {
		fmt.Fprintln(stderr, "usage: hadns dnssec ds [-ttl SECONDS] [-conf FILE | KEY...]")
		return checkUsage
	}
	fs := flag.NewFlagSet("hadns dnssec ds", flag.ContinueOnError)
	fs.SetOutput(stderr)
	conf := fs.String("conf", "", "read the key names from the dnssec lines of this Corefile (relative names are relative to the working directory)")
	ttl := fs.Uint("ttl", 3600, "TTL of the DS records")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: hadns dnssec ds [-ttl SECONDS] [-conf FILE | KEY...]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		return checkUsage
	}
	keys := fs.Args()
	if (*conf == "") == (len(keys) == 0) {
		fs.Usage()
		return checkUsage
	}
	if *conf != "" {
		var err error
		if keys, err = corefileKeys(*conf); err != nil {
			fmt.Fprintln(stderr, "hadns dnssec ds:", err)
			return checkInvalid
		}
	}
	out, err := dsLines(keys, uint32(*ttl))
	if err != nil {
		fmt.Fprintln(stderr, "hadns dnssec ds:", err)
		return checkInvalid
	}
	fmt.Fprint(stdout, out)
	return checkOK
}

// dsLines returns the DS record of each KSK among keys; ZSKs are skipped,
// and no KSK at all is an error.
func dsLines(keys []string, ttl uint32) (string, error) {
	var b strings.Builder
	for _, base := range keys {
		base = strings.TrimSuffix(strings.TrimSuffix(base, ".key"), ".private")
		data, err := os.ReadFile(base + ".key")
		if err != nil {
			return "", err
		}
		rr, err := dns.ReadRR(bytes.NewReader(data), base+".key")
		if err != nil {
			return "", err
		}
		k, ok := rr.(*dns.DNSKEY)
		if !ok {
			return "", fmt.Errorf("%s.key: no DNSKEY record", base)
		}
		if k.Flags&1 == 0 {
			continue // a ZSK: the parent has no DS for it
		}
		ds := k.ToDS(dns.SHA256)
		if ds == nil {
			return "", fmt.Errorf("%s.key: cannot make a DS for algorithm %d", base, k.Algorithm)
		}
		ds.Hdr.Ttl = ttl
		b.WriteString(ds.String())
		b.WriteByte('\n')
	}
	if b.Len() == 0 {
		return "", errors.New("no KSK (flags 257) among the keys")
	}
	return b.String(), nil
}

// corefileKeys returns the key names of every `dnssec ZONE KEY... [publish
// KEY...]` line of the hadns blocks of a Corefile; published keys sign
// nothing and are left out.
func corefileKeys(corefile string) ([]string, error) {
	data, err := os.ReadFile(corefile)
	if err != nil {
		return nil, err
	}
	blocks, err := caddyfile.Parse(corefile, bytes.NewReader(data), nil)
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, sb := range blocks {
		toks := sb.Tokens["hadns"]
		for i := 0; i < len(toks); i++ {
			if toks[i].Text != "dnssec" || i > 0 && toks[i-1].Line == toks[i].Line {
				continue
			}
			line := toks[i].Line
			j := i + 2 // past the zone
			for ; j < len(toks) && toks[j].Line == line && toks[j].Text != "publish"; j++ {
				keys = append(keys, toks[j].Text)
			}
			i = j - 1
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no `dnssec ZONE KEY...` line in a hadns block", corefile)
	}
	return keys, nil
}

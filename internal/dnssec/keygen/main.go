// Command keygen writes a DNSSEC key pair in BIND's .key/.private format, the
// files hadns reads. It is how the example keys under zones/keys were made:
//
//	go run ./internal/dnssec/keygen -zone example.test. -role ksk -out zones/keys/Kexample.test.+013.ksk.NOT-FOR-PRODUCTION
//
// dnssec-keygen (BIND) and ldns-keygen write the same format.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/hadns/hadns/internal/dnssec"
	"github.com/miekg/dns"
)

func main() {
	zone := flag.String("zone", "", "zone the key is for, e.g. example.test.")
	alg := flag.String("alg", "ECDSAP256SHA256", "algorithm: ECDSAP256SHA256 or ED25519")
	role := flag.String("role", "ksk", "ksk (flags 257, also for a combined key) or zsk (flags 256)")
	out := flag.String("out", "", "base name of the files to write (.key and .private are added)")
	flag.Parse()
	if err := run(*zone, *alg, *role, *out); err != nil {
		fmt.Fprintln(os.Stderr, "keygen:", err)
		os.Exit(1)
	}
}

func run(zone, alg, role, out string) error {
	if zone == "" || out == "" {
		return fmt.Errorf("-zone and -out are required")
	}
	a, ok := dns.StringToAlgorithm[alg]
	if !ok {
		return fmt.Errorf("unknown algorithm %q", alg)
	}
	if role != "ksk" && role != "zsk" {
		return fmt.Errorf("-role must be ksk or zsk, not %q", role)
	}
	k, err := dnssec.GenerateKey(zone, a, role == "ksk")
	if err != nil {
		return err
	}
	if err := k.Write(out, time.Now()); err != nil {
		return err
	}
	fmt.Printf("%s.key %s.private: %s key tag %d\n", out, out, role, k.Tag)
	return nil
}

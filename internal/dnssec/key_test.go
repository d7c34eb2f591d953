package dnssec

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestReadKeyExample(t *testing.T) {
	s := exampleSigner(t, Options{})
	if s.ksk == s.zsk {
		t.Fatal("example keys read as one combined key, want a KSK and a ZSK")
	}
	if s.ksk.DNSKEY.Flags != 257 || s.zsk.DNSKEY.Flags != 256 {
		t.Fatalf("flags KSK %d ZSK %d, want 257 and 256", s.ksk.DNSKEY.Flags, s.zsk.DNSKEY.Flags)
	}
	// Base names with a .key or .private suffix are accepted too, as in
	// CoreDNS's sign plugin.
	for _, suffix := range []string{".key", ".private"} {
		if _, err := ReadKey(s.ksk.File+suffix, zone); err != nil {
			t.Errorf("ReadKey(%q): %v", s.ksk.File+suffix, err)
		}
	}
}

// writeFiles writes name.key and name.private (when priv is not "") in dir.
func writeFiles(t *testing.T, dir, name, pub, priv string) string {
	t.Helper()
	base := filepath.Join(dir, name)
	if err := os.WriteFile(base+".key", []byte(pub), 0o644); err != nil {
		t.Fatal(err)
	}
	if priv != "" {
		if err := os.WriteFile(base+".private", []byte(priv), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return base
}

func TestReadKeyErrors(t *testing.T) {
	dir := t.TempDir()
	good, err := GenerateKey(zone, dns.ECDSAP256SHA256, true)
	if err != nil {
		t.Fatal(err)
	}
	other, err := GenerateKey(zone, dns.ECDSAP256SHA256, true)
	if err != nil {
		t.Fatal(err)
	}
	ed, err := GenerateKey(zone, dns.ED25519, true)
	if err != nil {
		t.Fatal(err)
	}
	pub := good.DNSKEY.String() + "\n"
	priv := good.DNSKEY.PrivateKeyString(good.Signer)
	withFlags := func(flags uint16) string {
		k := *good.DNSKEY
		k.Flags = flags
		return k.String() + "\n"
	}

	tests := []struct {
		name      string
		pub, priv string
		base      string // when set, read this instead of the written files
		zone      string
		want      []string // substrings of the error
	}{
		{name: "missing", base: filepath.Join(dir, "Knothere"), want: []string{"Knothere.key", "no such file"}},
		{name: "garbage", pub: "; comment\nexample.test. IN DNSKEY 257 three 13 AAAA\n", priv: priv, want: []string{"garbage.key", "line: 2:"}},
		{name: "shortkey", pub: "example.test. IN DNSKEY 257 3 13 AAAA\n", priv: priv, want: []string{"shortkey.key", "64 octets"}},
		{name: "empty", pub: "; only a comment\n", priv: priv, want: []string{"empty.key", "no DNSKEY"}},
		{name: "notdnskey", pub: "example.test. IN A 192.0.2.1\n", priv: priv, want: []string{"notdnskey.key", "want a DNSKEY", "found A"}},
		{name: "otherzone", pub: strings.Replace(pub, "example.test.", "example.org.", 1), priv: priv, want: []string{"otherzone.key", `"example.org."`, `not "example.test."`}},
		{name: "rsa", pub: "example.test. IN DNSKEY 257 3 8 AwEAAcFcGsaxxdgiuuGmCkVImy4h99CqT7jwY3pexPGcnUFtR2Fh36BponcwtkZ4cAgtvd4Qs8PkxUdp6p/DlUmObdk=\n", priv: priv, want: []string{"rsa.key", "RSASHA256 (8) not supported"}},
		{name: "nozonebit", pub: withFlags(1), priv: priv, want: []string{"nozonebit.key", "zone key bit"}},
		{name: "revoked", pub: withFlags(257 | 128), priv: priv, want: []string{"revoked.key", "REVOKE"}},
		{name: "noprivate", pub: pub, want: []string{"noprivate.key", "missing private half", "noprivate.private"}},
		{name: "badprivate", pub: pub, priv: "Private-key-format: v1.3\nAlgorithm: 13 (ECDSAP256SHA256)\n", want: []string{"badprivate.private"}},
		{name: "mismatch", pub: pub, priv: other.DNSKEY.PrivateKeyString(other.Signer), want: []string{"mismatch.private", "does not match", "mismatch.key"}},
		{name: "wrongalg", pub: pub, priv: ed.DNSKEY.PrivateKeyString(ed.Signer), want: []string{"wrongalg.private", "private key is ED25519", "ECDSAP256SHA256"}},
		{name: "noprivateline", pub: pub, priv: "Private-key-format: v1.3\nAlgorithm: 13 (ECDSAP256SHA256)\nCreated: 20261201000000\n", want: []string{"noprivateline.private", "no valid PrivateKey"}},
		{name: "ednoprivateline", pub: ed.DNSKEY.String() + "\n", priv: "Private-key-format: v1.2\nAlgorithm: 15 (ED25519)\n", want: []string{"ednoprivateline.private", "no valid PrivateKey"}},
		{name: "wrongzone", pub: pub, priv: priv, zone: "example.org.", want: []string{"wrongzone.key", `not "example.org."`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := tc.base
			if base == "" {
				base = writeFiles(t, dir, tc.name, tc.pub, tc.priv)
			}
			z := tc.zone
			if z == "" {
				z = zone
			}
			k, err := ReadKey(base, z)
			if err == nil {
				t.Fatalf("ReadKey = key %d, want an error", k.Tag)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestNewSignerErrors(t *testing.T) {
	gen := func(alg uint8, ksk bool) *Key {
		k, err := GenerateKey(zone, alg, ksk)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	ksk, zsk := gen(dns.ECDSAP256SHA256, true), gen(dns.ECDSAP256SHA256, false)
	ksk.File, zsk.File = "Kksk", "Kzsk"
	other, err := GenerateKey("example.org.", dns.ECDSAP256SHA256, false)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		keys []*Key
		zone string
		opt  Options
		want string
	}{
		{name: "none", want: "no key"},
		{name: "zsk alone", keys: []*Key{zsk}, want: "needs a KSK"},
		{name: "two ksk", keys: []*Key{ksk, gen(dns.ECDSAP256SHA256, true)}, want: "two KSKs"},
		{name: "two zsk", keys: []*Key{ksk, zsk, gen(dns.ECDSAP256SHA256, false)}, want: "two ZSKs"},
		{name: "mixed algorithms", keys: []*Key{ksk, gen(dns.ED25519, false)}, want: "algorithms 13 and 15 differ"},
		{name: "other zone", keys: []*Key{ksk}, zone: "example.org.", want: "Kksk"},
		{name: "published other algorithm", keys: []*Key{ksk, zsk}, opt: Options{Published: []*Key{gen(dns.ED25519, false)}}, want: "algorithms 13 and 15 differ"},
		{name: "published twice", keys: []*Key{ksk, zsk}, opt: Options{Published: []*Key{zsk}}, want: "Kzsk and Kzsk: the same key given twice"},
		{name: "published other zone", keys: []*Key{ksk}, opt: Options{Published: []*Key{other}}, want: `"example.org."`},
		{name: "refresh too long", keys: []*Key{ksk}, opt: Options{Validity: 10 * 24 * 3600e9, Refresh: 9 * 24 * 3600e9}, want: "must be longer than refresh"},
		{name: "validity too long", keys: []*Key{ksk}, opt: Options{Validity: 20 * 365 * 24 * 3600e9}, want: "longer than 10 years"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			z := tc.zone
			if z == "" {
				z = zone
			}
			_, err := NewSigner(z, tc.keys, tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewSigner error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// TestReadKeyLdnsKeygen reads keys made by ldns-keygen (ldnsutils), which
// writes BIND's format, so hadns is known to read files it did not write.
func TestReadKeyLdnsKeygen(t *testing.T) {
	bin, err := exec.LookPath("ldns-keygen")
	if err != nil {
		t.Fatal("ldns-keygen not found: install ldnsutils (CI does)")
	}
	for _, alg := range []string{"ECDSAP256SHA256", "ED25519"} {
		t.Run(alg, func(t *testing.T) {
			dir := t.TempDir()
			var keys []*Key
			for _, args := range [][]string{{"-k"}, {}} {
				cmd := exec.Command(bin, append(append([]string{"-a", alg}, args...), "example.test")...)
				cmd.Dir = dir
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("ldns-keygen: %v", err)
				}
				k, err := ReadKey(filepath.Join(dir, strings.TrimSpace(string(out))), zone)
				if err != nil {
					t.Fatal(err)
				}
				keys = append(keys, k)
			}
			s, err := NewSigner(zone, keys, Options{})
			if err != nil {
				t.Fatal(err)
			}
			set := rrset(t, "www.example.test. 300 IN A 192.0.2.1")
			sig, err := s.Sign(set, t0)
			if err != nil {
				t.Fatal(err)
			}
			verify(t, s, sig, set, t0)
			if sig.KeyTag != keys[1].Tag {
				t.Fatalf("A RRset signed by key %d, want the ZSK %d", sig.KeyTag, keys[1].Tag)
			}
		})
	}
}

// TestReadKeyBIND reads keys made by BIND's dnssec-keygen (kept in
// testdata/bind): a KSK/ZSK pair and an Ed25519 key used as a CSK.
func TestReadKeyBIND(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files []string
	}{
		{"pair", []string{"Kexample.test.+013+03633", "Kexample.test.+013+38584.key"}},
		{"csk", []string{"Kexample.test.+015+23468.private"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var keys []*Key
			for _, f := range tc.files {
				k, err := ReadKey(filepath.Join("testdata", "bind", f), "Example.Test")
				if err != nil {
					t.Fatal(err)
				}
				// The file name carries the key tag.
				if want := fmt.Sprintf("+%05d", k.Tag); !strings.Contains(f, want) {
					t.Fatalf("%s: key tag %d", f, k.Tag)
				}
				keys = append(keys, k)
			}
			s, err := NewSigner(zone, keys, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, set := range [][]dns.RR{s.DNSKEY(3600), rrset(t, "www.example.test. 30 IN A 192.0.2.1")} {
				sig, err := s.Sign(set, t0)
				if err != nil {
					t.Fatal(err)
				}
				verify(t, s, sig, set, t0)
			}
		})
	}
}

// TestWriteKey writes a generated key and reads it back.
func TestWriteKey(t *testing.T) {
	for _, alg := range []uint8{dns.ECDSAP256SHA256, dns.ED25519} {
		k, err := GenerateKey("Example.Test.", alg, false)
		if err != nil {
			t.Fatal(err)
		}
		base := filepath.Join(t.TempDir(), "K")
		if err := k.Write(base, t0); err != nil {
			t.Fatal(err)
		}
		back, err := ReadKey(base, zone)
		if err != nil {
			t.Fatal(err)
		}
		if back.DNSKEY.PublicKey != k.DNSKEY.PublicKey || back.Tag != k.Tag || back.IsKSK() {
			t.Fatalf("read back %s, wrote %s", back.DNSKEY, k.DNSKEY)
		}
		if fi, err := os.Stat(base + ".private"); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("private file mode %v (%v), want 0600", fi.Mode(), err)
		}
	}
	if _, err := GenerateKey(zone, dns.RSASHA256, true); err == nil {
		t.Fatal("GenerateKey made an RSA key")
	}
}

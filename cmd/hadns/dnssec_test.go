package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runDNSSEC(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut strings.Builder
	code = dnssecCmd(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// The DS of the example KSK, as zones/keys/README.md gives it.
const exampleDS = "example.test.\t3600\tIN\tDS\t6723 13 2 49800BE7283C124D991EDA5B3F29FACA039010379EA3FFE038B2F5E6704CDF73\n"

// hadns dnssec ds prints the DS of the KSK, from key files or from the
// dnssec lines of a Corefile, and skips ZSKs.
func TestDNSSECDS(t *testing.T) {
	t.Chdir("../..")
	ksk := "zones/keys/Kexample.test.+013.ksk.NOT-FOR-PRODUCTION"
	zsk := "zones/keys/Kexample.test.+013.zsk.NOT-FOR-PRODUCTION"
	for _, args := range [][]string{
		{"ds", ksk},
		{"ds", ksk + ".key", zsk},
		{"ds", zsk + ".private", ksk + ".private"},
		{"ds", "-conf", "Corefile.dnssec.example"},
	} {
		code, out, errOut := runDNSSEC(t, args...)
		if code != checkOK || out != exampleDS || errOut != "" {
			t.Errorf("hadns dnssec %v: exit %d, stdout %q, stderr %q; want %q", args, code, out, errOut, exampleDS)
		}
	}
	readme, err := os.ReadFile("zones/keys/README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(strings.Fields(string(readme)), " "), strings.Join(strings.Fields(exampleDS), " ")) {
		t.Errorf("zones/keys/README.md does not give the DS %q", exampleDS)
	}
	if code, out, _ := runDNSSEC(t, "ds", "-ttl", "86400", ksk); code != checkOK || !strings.HasPrefix(out, "example.test.\t86400\tIN\tDS\t6723 ") {
		t.Errorf("-ttl 86400: exit %d, %q", code, out)
	}
}

func TestDNSSECDSErrors(t *testing.T) {
	t.Chdir("../..")
	dir := t.TempDir()
	noDNSSEC := filepath.Join(dir, "Corefile")
	if err := os.WriteFile(noDNSSEC, []byte("example.test {\n    hadns {\n        zone z.yaml\n    }\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{nil, checkUsage, "usage: hadns dnssec ds"},
		{[]string{"ds"}, checkUsage, "usage: hadns dnssec ds"},
		{[]string{"ds", "-conf", "Corefile.dnssec.example", "zones/keys/x"}, checkUsage, "usage: hadns dnssec ds"},
		{[]string{"ds", "zones/keys/Kexample.test.+013.zsk.NOT-FOR-PRODUCTION"}, checkInvalid, "no KSK (flags 257)"},
		{[]string{"ds", filepath.Join(dir, "Knope")}, checkInvalid, "no such file"},
		{[]string{"ds", "-conf", noDNSSEC}, checkInvalid, "no `dnssec ZONE KEY...` line"},
		{[]string{"ds", "-conf", filepath.Join(dir, "missing")}, checkInvalid, "no such file"},
	} {
		code, out, errOut := runDNSSEC(t, c.args...)
		if code != c.code || out != "" || !strings.Contains(errOut, c.want) {
			t.Errorf("hadns dnssec %v: exit %d, stdout %q, stderr %q; want exit %d and %q", c.args, code, out, errOut, c.code, c.want)
		}
	}
}

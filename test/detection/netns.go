package main

import (
	"fmt"
	"os/exec"
	"strconv"
)

// firewall silences ports with iptables, inside this program's namespace.
type firewall struct{ path string }

// newFirewall finds iptables, or says how to install it.
func newFirewall() (*firewall, error) {
	p, err := exec.LookPath("iptables")
	if err != nil {
		return nil, fmt.Errorf("iptables not found; install it with: apt-get install -y iptables (or nftables' iptables-nft)")
	}
	fw := &firewall{path: p}
	if err := fw.iptables("-L", "INPUT", "-n"); err != nil {
		return nil, fmt.Errorf("iptables does not work here: %w", err)
	}
	return fw, nil
}

// silence drops every packet to and from port; unsilence undoes it.
func (fw *firewall) silence(port int) error   { return fw.rules("-I", port) }
func (fw *firewall) unsilence(port int) error { return fw.rules("-D", port) }

func (fw *firewall) rules(op string, port int) error {
	p := strconv.Itoa(port)
	if err := fw.iptables(op, "INPUT", "-p", "tcp", "--dport", p, "-j", "DROP"); err != nil {
		return err
	}
	return fw.iptables(op, "INPUT", "-p", "tcp", "--sport", p, "-j", "DROP")
}

func (fw *firewall) iptables(args ...string) error {
	out, err := exec.Command(fw.path, append([]string{"-w"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("iptables %v: %w: %s", args, err, out)
	}
	return nil
}

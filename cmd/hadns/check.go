package main

import (
	"flag"
	"fmt"
	"io"
	"regexp"
	"slices"
	"text/tabwriter"

	hadns "github.com/hadns/hadns/plugin"
)

// Exit codes of `hadns check`.
const (
	checkOK      = 0
	checkInvalid = 1 // the Corefile or a zone file has problems
	checkUsage   = 2 // bad flags, or the Corefile could not be read
)

// check runs `hadns check [-conf FILE]`: it validates a Corefile and its
// zone files as the server would load them, without serving, prints every
// problem as file:line: message on stderr, and on success the services'
// failover budgets on stdout. It returns the exit code.
func check(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hadns check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	conf := fs.String("conf", "Corefile", "the Corefile to check (zone file names in it are relative to the working directory, or to root)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: hadns check [-conf FILE]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return checkUsage
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return checkUsage
	}
	r, err := hadns.ValidateCorefile(*conf)
	if err != nil {
		fmt.Fprintln(stderr, "hadns check:", err)
		return checkUsage
	}
	for _, e := range r.Errors {
		e.Msg = explainLeftOut(e.Msg)
		fmt.Fprintln(stderr, e)
	}
	if n := len(r.Errors); n > 0 {
		fmt.Fprintf(stderr, "%s: %d problem(s)\n", *conf, n)
		return checkInvalid
	}
	printBudgets(stdout, r.Budgets)
	if r.AnswerBytes >= hadns.LargeAnswerBytes {
		fmt.Fprintf(stdout, "note: the precomputed answers of this configuration take about %d MiB (estimated with every backend healthy; max_answers, backends and sites multiply it)\n", r.AnswerBytes>>20)
	}
	fmt.Fprintf(stdout, "%s: OK\n", *conf)
	return checkOK
}

// printBudgets prints each service's worst-case failover as a table.
func printBudgets(w io.Writer, budgets []hadns.Budget) {
	if len(budgets) == 0 {
		fmt.Fprintln(w, "no services")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVER\tSERVICE\tDETECTION\tTTL\tWORST CASE\tBUDGET")
	for _, b := range budgets {
		limit := "-"
		if b.Limit > 0 {
			limit = b.Limit.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%v\t%v\t%s\n", b.Server, b.Service, b.Detection, b.TTL, b.Worst(), limit)
	}
	tw.Flush()
	fmt.Fprintln(w, "worst case = detection (slowest backend's health check) + TTL; BUDGET is the zone file's failover_budget")
}

// unknownDirective is how caddy (and hadns.ValidateCorefile, in its words) names a
// directive that is not in the directive list.
var unknownDirective = regexp.MustCompile(`^Unknown directive '([^']+)'$`)

// explainLeftOut adds to an unknown directive that names a CoreDNS plugin
// left out of this binary (plugins.go) that it is one: it is no typing
// mistake, the plugin is simply not compiled in.
func explainLeftOut(msg string) string {
	m := unknownDirective.FindStringSubmatch(msg)
	if m == nil || !slices.Contains(leftOut, m[1]) {
		return msg
	}
	return msg + ": a CoreDNS plugin that is not compiled into hadns (hadns -plugins lists those that are)"
}

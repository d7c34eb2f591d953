#!/usr/bin/python3
"""A small HTTPS-record client, as an HTTP client library would ask.

    https_client.py SERVER PORT SOURCE NAME [TYPE]

Sends one query (UDP, EDNS, TCP when truncated) for NAME's HTTPS (or TYPE)
records to SERVER:PORT from the address SOURCE with dnspython, and prints
one JSON object: the rcode, and for each record in priority order its
priority, target, alpn, port and address hints, and the additional
section's addresses. Exits 1 on a DNS error.
"""
import json
import sys

import dns.flags
import dns.message
import dns.query
import dns.rdatatype
from dns.rdtypes.svcbbase import ParamKey


def main():
    server, port, source, name = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    rdtype = dns.rdatatype.from_text(sys.argv[5] if len(sys.argv) > 5 else "HTTPS")
    q = dns.message.make_query(name, rdtype, use_edns=0, payload=1232)
    q.flags &= ~dns.flags.RD
    r = dns.query.udp(q, server, port=port, source=source, timeout=2)
    if r.flags & dns.flags.TC:
        r = dns.query.tcp(q, server, port=port, source=source, timeout=2)
    out = {"rcode": dns.rcode.to_text(r.rcode()), "records": [], "additional": []}
    for rrset in r.answer:
        if rrset.rdtype != rdtype:
            continue
        for rd in sorted(rrset, key=lambda rd: rd.priority):
            rec = {"priority": rd.priority, "target": rd.target.to_text(), "ttl": rrset.ttl,
                   "ipv4hint": [], "ipv6hint": [], "alpn": [], "port": None}
            for key, value in rd.params.items():
                if key == ParamKey.IPV4HINT:
                    rec["ipv4hint"] = list(value.addresses)
                elif key == ParamKey.IPV6HINT:
                    rec["ipv6hint"] = list(value.addresses)
                elif key == ParamKey.ALPN:
                    rec["alpn"] = [i.decode() for i in value.ids]
                elif key == ParamKey.PORT:
                    rec["port"] = value.port
            out["records"].append(rec)
    for rrset in r.additional:
        if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            out["additional"] += [rd.address for rd in rrset]
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a clear message, not a traceback, for the test log
        print(f"https_client.py: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)

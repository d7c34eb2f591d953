// Package dnsraw sends DNS messages as raw bytes, for tests that must send
// what a client library would refuse to (malformed options, odd opcodes, no
// question) or read a reply exactly as it came on the wire.
package dnsraw

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"time"
)

// Exchange sends one DNS message in wire format to addr over network ("udp"
// or "tcp") and returns the reply's wire bytes, all within timeout. Over
// UDP, datagrams whose ID differs from the query's are skipped (at most 16).
func Exchange(network, addr string, wire []byte, timeout time.Duration) ([]byte, error) {
	conn, err := net.DialTimeout(network, addr, timeout)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	if network == "tcp" {
		msg := binary.BigEndian.AppendUint16(nil, uint16(len(wire)))
		if _, err := conn.Write(append(msg, wire...)); err != nil {
			return nil, err
		}
		var l [2]byte
		if _, err := io.ReadFull(conn, l[:]); err != nil {
			return nil, err
		}
		reply := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(conn, reply); err != nil {
			return nil, err
		}
		return reply, nil
	}
	if _, err := conn.Write(wire); err != nil {
		return nil, err
	}
	buf := make([]byte, 65535)
	for range 16 {
		n, err := conn.Read(buf)
		if err != nil {
			return nil, err
		}
		if n >= 2 && len(wire) >= 2 && bytes.Equal(buf[:2], wire[:2]) {
			return buf[:n:n], nil
		}
	}
	return nil, errors.New("no reply with the query's ID")
}

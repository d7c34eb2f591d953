// Package wire packs DNS replies once, when their answer is computed, and
// patches the packed bytes per query: the query's ID, its RD and CD flags,
// its question as spelled, and an OPT record with the ECS and EDE options.
// A query then costs a copy of bytes, not a message to build and pack, and
// no allocation.
//
// It owns the packed form of a reply (Answer), the negative answers whose
// question is the query's (Negative), the places a UDP reply may drop
// additional data, and the messages that stand for a packed reply where a
// writer must see one. It knows nothing of zones, services, health or
// CoreDNS: what a reply holds is given to Pack as records, and which writer
// the bytes go to is the caller's business. Every function is safe on any
// input: Patch refuses (reports false) what it cannot patch into a valid
// reply, and the caller then builds the reply as a message.
package wire

package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"time"

	"behalf/model"
)

// HashVersion is the version of the canonical encoding that Hash computes. It is the first thing
// hashed, so an event hashed under one version never verifies under another.
const HashVersion = 1

// GenesisHash is the prevHash of the first event of the chain.
var GenesisHash = strings.Repeat("0", 64)

// Canonical returns the canonical encoding of ev (version 1), the bytes its hash is computed over:
//
//	"behalf.audit.v1" then, in this order, every field as a tagged, length-prefixed value:
//	seq, prevHash, id, at, action, actorId, actorLogin, subjectId, subjectLogin, onBehalf,
//	sessionId, reason, outcome, errorCode, operation, arguments, ip, userAgent, requestId
//
// A string is the byte 's', its length as a big-endian uint32 and its UTF-8 bytes; a null (an
// absent actorId, subjectId or sessionId) is the single byte 'n', so null and "" differ; an integer
// (seq, and at as Unix microseconds in UTC) is 'i' and 8 bytes big-endian two's complement; a
// boolean is 't' or 'f'. Nothing is left out and no value can run into the next, so two different
// events never share an encoding. docs/audit.md documents the same.
func Canonical(ev *model.AuditEvent) []byte {
	b := make([]byte, 0, 256+len(ev.Arguments)+len(ev.UserAgent))
	b = append(b, "behalf.audit.v1"...)
	b = encInt(b, ev.Seq)
	b = encStr(b, ev.PrevHash)
	return canonicalTail(b, ev)
}

// canonicalTail appends to b the canonical encoding of ev's fields after prevHash (id to requestId):
// the part of the encoding known before the event's place in the chain (PostgreSQL's audit_append
// prefixes the rest).
func canonicalTail(b []byte, ev *model.AuditEvent) []byte {
	if b == nil {
		b = make([]byte, 0, 200+len(ev.Arguments)+len(ev.UserAgent))
	}
	b = encStr(b, ev.ID)
	b = encInt(b, ev.At.UTC().UnixMicro())
	b = encStr(b, ev.Action)
	b = encOpt(b, ev.ActorID)
	b = encStr(b, ev.ActorLogin)
	b = encOpt(b, ev.SubjectID)
	b = encStr(b, ev.SubjectLogin)
	b = encBool(b, ev.OnBehalf)
	b = encOpt(b, ev.SessionID)
	b = encStr(b, ev.Reason)
	b = encStr(b, string(ev.Outcome))
	b = encStr(b, ev.ErrorCode)
	b = encStr(b, ev.Operation)
	b = encStr(b, ev.Arguments)
	b = encStr(b, ev.IP)
	b = encStr(b, ev.UserAgent)
	b = encStr(b, ev.RequestID)
	return b
}

// Hash returns the hex SHA-256 of ev's canonical encoding.
func Hash(ev *model.AuditEvent) string {
	h := sha256.Sum256(Canonical(ev))
	return hex.EncodeToString(h[:])
}

func encStr(b []byte, s string) []byte {
	b = append(b, 's')
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func encOpt(b []byte, s *string) []byte {
	if s == nil {
		return append(b, 'n')
	}
	return encStr(b, *s)
}

func encInt(b []byte, n int64) []byte {
	b = append(b, 'i')
	return binary.BigEndian.AppendUint64(b, uint64(n))
}

func encBool(b []byte, v bool) []byte {
	if v {
		return append(b, 't')
	}
	return append(b, 'f')
}

// chainTime is how precisely an event's time is kept: microseconds, what both databases store, so
// the time hashed is the time read back.
func chainTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

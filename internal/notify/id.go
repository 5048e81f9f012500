package notify

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// idPrefix starts every delivery id; idVersion separates this scheme's hashes from any later one.
const (
	idPrefix  = "rsn-"
	idVersion = "secret-rotator/notify/v2"
	idBytes   = 16
)

// DeliveryID returns the id of one logical notification: event about revision of the RotatedSecret
// namespace/name whose UID is uid (a RotatedSecret deleted and created again under the same name starts its
// revisions again, and must not be taken for the old one), for the sink at index sink of spec.notify. It is "rsn-" and 32 hexadecimal digits (the first
// 16 bytes of a SHA-256 of the length-prefixed tuple), the same for every attempt and every reconciler, so
// receivers deduplicate on it (Idempotency-Key, X-Secret-Rotator-Delivery, the JSON "id").
//
// Two notifications with the same tuple are one to a receiver: an event that may happen more than once for one
// revision must differ in some part of the tuple to be seen twice. Reordering spec.notify changes sink, hence the
// ids of deliveries still pending.
func DeliveryID(uid, namespace, name string, revision int64, event Event, sink int) string {
	h := sha256.New()
	var n [8]byte
	for _, part := range []string{idVersion, uid, namespace, name, string(event)} {
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write([]byte(part))
	}
	binary.BigEndian.PutUint64(n[:], uint64(revision))
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(int64(sink)))
	h.Write(n[:])
	return idPrefix + hex.EncodeToString(h.Sum(nil)[:idBytes])
}

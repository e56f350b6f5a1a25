package lot

import (
	"encoding/hex"
	"strconv"
)

// ARLID is the id of insurer's ARL for one attempt of a lot. Deterministic:
// an insurer answering the same attempt twice gives the same id.
func ARLID(insurer, lot string, attempt int) string {
	return "arl:" + insurer + ":" + lot + "." + strconv.Itoa(attempt)
}

// ReturnID is the id of insurer's return of a given status for one sheet
// (billing, number, and the digest of its signed bytes, so that a different
// sheet under the same number — a doublon — gets answers of its own).
// Deterministic: a re-sent sheet answered again gets the same id, so the
// gateway applies it once.
func ReturnID(insurer, billing, number string, digest [32]byte, status Status) string {
	return "ret:" + insurer + ":" + billing + "." + number + ":" + hex.EncodeToString(digest[:8]) + ":" + string(status)
}

// AckID is the id of an acknowledgement message: the n-th message of a
// given level about one attempt of a lot.
func AckID(insurer, lot string, attempt int, level Level, n int) string {
	return "ack:" + insurer + ":" + lot + "." + strconv.Itoa(attempt) + ":" + string(level) + ":" + strconv.Itoa(n)
}

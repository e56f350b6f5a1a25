package lot

import "strings"

// Wire names the NATS subjects and JetStream objects one insurer sees. It is
// the whole contract between the gateway and an insurer endpoint: the
// gateway's topology (queue/topology.go) creates the stream and the durable
// consumers under these names, insurers only use them.
//
// Two wires exist: Live, where the gateway delivers real lots, and
// Conformance, where 'gateway conformance' sends its test lots, so a
// conformance run never touches live lots.
type Wire struct {
	// Stream is the JetStream stream holding the lots.
	Stream string
	// LotPrefix is the subject prefix of lots: lots for insurer X are
	// published on LotPrefix + "." + X.
	LotPrefix string
	// AckPrefix is the subject prefix of acknowledgements: insurer X
	// publishes its ARLs and returns on AckPrefix + "." + X.
	AckPrefix string
}

var (
	// Live is the production wire: stream FSE_LOTS, subjects fse.lots.<id>,
	// acknowledgements on fse.acks.<id> (stored by the gateway in FSE_ACKS).
	Live = Wire{Stream: "FSE_LOTS", LotPrefix: "fse.lots", AckPrefix: "fse.acks"}
	// Conformance is the wire of the conformance kit: stream FSE_CONFORMANCE
	// holding both fse.conformance.lots.<id> and fse.conformance.acks.<id>.
	Conformance = Wire{Stream: "FSE_CONFORMANCE", LotPrefix: "fse.conformance.lots", AckPrefix: "fse.conformance.acks"}
)

// LotSubject is where the lots of insurer id are published.
func (w Wire) LotSubject(id string) string { return w.LotPrefix + "." + id }

// AckSubject is where insurer id publishes its acknowledgements.
func (w Wire) AckSubject(id string) string { return w.AckPrefix + "." + id }

// Consumer is the name of insurer id's durable pull consumer on Stream,
// filtered on LotSubject(id). The insurer id itself.
func (w Wire) Consumer(id string) string { return id }

// InboxPrefix is the only subject prefix insurer id may subscribe to; its
// client sets it with nats.CustomInboxPrefix.
func InboxPrefix(id string) string { return "_INBOX_" + id }

// Permissions is what a NATS user may publish to and subscribe to.
type Permissions struct {
	Publish   []string
	Subscribe []string
}

// InsurerPermissions is the exact permission set of insurer id's NATS user
// on the given wires (design §4): publish only to its consumer's next-message
// and info API subjects, to the ack subjects of its own consumer, and to its
// acknowledgement subject; subscribe only under its own inbox prefix. No core
// subscription to lots, no consumer or stream creation, no direct get.
func InsurerPermissions(id string, wires ...Wire) Permissions {
	var p Permissions
	for _, w := range wires {
		c := w.Consumer(id)
		p.Publish = append(p.Publish,
			"$JS.API.CONSUMER.MSG.NEXT."+w.Stream+"."+c,
			"$JS.API.CONSUMER.INFO."+w.Stream+"."+c,
			"$JS.ACK."+w.Stream+"."+c+".>",
			w.AckSubject(id),
		)
	}
	p.Subscribe = []string{InboxPrefix(id) + ".>"}
	return p
}

// ValidID reports whether id can name an insurer: a NATS subject token of
// lowercase letters, digits, '_' and '-', 1 to 32 bytes, not starting with
// '_' (which would collide with inbox prefixes).
func ValidID(id string) bool {
	if len(id) == 0 || len(id) > 32 || id[0] == '_' || id[0] == '-' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return !strings.Contains(id, "..")
}

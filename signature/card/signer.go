package card

import "crypto"

// Signer is a card key: crypto.Signer for callers that hand over a digest
// (crypto/tls, pdfsign), crypto.MessageSigner for callers that hand over the
// message (XAdES), so the card can finish the hash itself (PSO HASH).
type Signer interface {
	crypto.Signer
	crypto.MessageSigner
}

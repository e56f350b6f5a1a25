// Package virtual is a software CPS card: the IAS-ECC commands of package
// card answered in software, plugged into pcscd through the vsmartcard vpcd
// reader (Serve), so that our client, OpenSC and any PC/SC program see a
// card in a reader. Profiles come from fixtures/cards: the holder, the keys
// and certificates, and the billing situations, written to the situation
// files D120 to D12F with package card's codec (card.Situation).
//
// vpcd listens on all interfaces: this is a development and test tool, never
// for a production workstation.
package virtual

// Package virtual is a software CPS card: the IAS-ECC commands of package
// card answered in software, plugged into pcscd through the vsmartcard vpcd
// reader (Serve), so that our client, OpenSC and any PC/SC program see a
// card in a reader. A profile (LoadProfile from a file, LoadProfileFS from
// a file system; the fixtures' cards, fixtures/cards, through
// fixtures/dev.Profile and dev.Card) gives the holder, the keys and
// certificates, and the billing situations, written to the situation files
// D120 to D12F with package card's codec (card.Situation); New makes the
// card.
//
// vpcd listens on all interfaces: this is a development and test tool, never
// for a production workstation.
package virtual

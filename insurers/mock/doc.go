// Package mock runs mock insurer endpoints: each consumes its lots over
// NATS as its own user, checks them as an insurer would (count, digests,
// signatures, rules) and answers ARL and returns, then pays in bank
// transfers what the rules compute (fse.Compute; yearly caps with fse.Caps
// over the sheets it has seen), according to a seeded scenario (rejects,
// negative ARLs, delays, outages, duplicates, out-of-order answers;
// payments grouped, late, partial, reversed). It also holds the conformance kit that checks any
// insurer endpoint speaking the lot formats.
package mock

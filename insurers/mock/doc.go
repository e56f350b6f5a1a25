// Package mock runs mock insurer endpoints: each consumes its lots over
// NATS as its own user, checks them as an insurer would (count, digests,
// signatures, rules) and answers ARL, returns and payments according to a
// seeded scenario (rejects, negative ARLs, delays, outages, duplicates,
// out-of-order answers). It also holds the conformance kit that checks any
// insurer endpoint speaking the lot formats.
package mock

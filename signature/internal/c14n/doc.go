// Package c14n writes Exclusive XML Canonicalization 1.0 (without comments,
// no InclusiveNamespaces prefix list) of beevik/etree trees.
//
// It never modifies the tree it reads (goxmldsig's canonicalizer does) and
// appends to a caller's buffer, so a verifier can canonicalise a parsed
// document in place, once, with few allocations.
//
// Limits: attribute values are written as encoding/xml decoded them; that
// parser does not normalise literal tabs and newlines inside attribute values
// into spaces as the XML specification asks, so such documents canonicalise
// differently here and in libxml2-based tools.
package c14n

// Package lot is the wire format between the gateway and insurers
// (urn:fsegate:lot:1, docs/lots.md): the lot envelope (id, sequence, insurer,
// count, per-sheet digests and the sheets' signed bytes untouched), the
// acknowledgements (ARL per lot, per-sheet returns) and the transfers (a
// bank transfer paying sheets of many lots: paid, withheld, reversed), every
// one carrying ids that make duplicates harmless; and the SCOR lot (scor.go:
// the scanned pieces of sheets on paper prescriptions, acknowledged by an
// ARL).
//
// Contract: imports fse only; encoding is deterministic; decoding is strict
// and bounded.
package lot

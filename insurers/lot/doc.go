// Package lot is the wire format between the gateway and insurers
// (urn:fsegate:lot:1, docs/lots.md): the lot envelope (id, sequence, insurer,
// count, per-sheet digests and the sheets' signed bytes untouched) and the
// acknowledgements (ARL per lot, per-sheet returns), every one carrying ids
// that make duplicates harmless.
//
// Contract: imports fse only; encoding is deterministic; decoding is strict
// and bounded.
package lot

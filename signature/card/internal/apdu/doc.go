// Package apdu is the one vocabulary of the CPx card's commands: the
// instruction bytes, short command APDUs (build and parse), status words
// and BER-TLV. The card client (package card) builds commands and reads
// responses with it; the virtual card (package virtual) parses the same
// commands and builds the same responses, so the two cannot drift.
//
// Only short APDUs (ISO/IEC 7816-4 §5.1: Lc and Le on one byte) are
// spoken: a CPx command never carries more than 255 bytes.
package apdu

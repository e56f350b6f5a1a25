// Package api is the gateway's HTTP edge: the one registry of error codes
// (each with its HTTP status and its anchor in docs/errors.md) and the
// problem+json body every refusal uses.
package api

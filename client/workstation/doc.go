// Package workstation is the Go client of the workstation's local HTTP API
// (workstation serve), for practice and pharmacy software written in Go.
//
// The practice software posts unsigned care sheets; the workstation checks
// them, signs them with the CPS card in its reader, keeps them in its
// durable outbox and sends them to the gateway. docs/workstation-openapi.yaml
// describes the API.
//
//	ws, err := workstation.FromTokenFile("http://127.0.0.1:7600", "")
//	res, err := ws.PostSheet(ctx, xmlBytes, workstation.XML)
//	// res.State: "receipted" (sent), "pending" (waits for the gateway)
//	var p *client.Problem // a refusal: every code with its field
//	if errors.As(err, &p) { … }
package workstation

package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/fsegate/fsegate/api"
	"github.com/fsegate/fsegate/client"
	"github.com/fsegate/fsegate/insurers/lot"
)

// The local API's prescription routes: practice or pharmacy software
// carries a signed prescription to the gateway, and sends a sheet's SCOR
// piece (its scanned paper prescription), through the card's session.

// forward sends body to the gateway with the card's client and relays the
// gateway's answer (or refusal).
func (s *server) forward(w http.ResponseWriter, r *http.Request, limit int64, send func(cl *client.Client, body []byte) (any, error)) {
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil || int64(len(body)) > limit {
		problem(w, http.StatusRequestEntityTooLarge, "body too large", api.NewError("BODY_TOO_LARGE", "", "the body is over the size limit", ""))
		return
	}
	s.mu.Lock()
	_, sender, err := s.openCard(r.Context())
	s.mu.Unlock()
	if err != nil {
		cardProblem(w, err)
		return
	}
	cl, err := sender.Client(r.Context())
	if err != nil {
		problem(w, http.StatusBadGateway, "gateway not reachable", api.NewError("GATEWAY_UNREACHABLE", "", err.Error(), "check the gateway's address and the network"))
		return
	}
	out, err := send(cl, body)
	var p *client.Problem
	switch {
	case errors.As(err, &p):
		ap := api.Problem{Type: api.ProblemType, Title: p.Title, Status: p.Status}
		for _, it := range p.Errors {
			ap.Errors = append(ap.Errors, api.Error{Code: it.Code, Path: it.Path, Message: it.Message, Hint: it.Hint, Doc: it.Doc})
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(p.Status)
		_ = json.NewEncoder(w).Encode(ap)
	case err != nil:
		problem(w, http.StatusBadGateway, "gateway not reachable", api.NewError("GATEWAY_UNREACHABLE", "", err.Error(), "the gateway did not answer; send again"))
	default:
		writeJSON(w, http.StatusOK, out)
	}
}

// postPrescription carries a signed prescription PDF to the gateway.
func (s *server) postPrescription(w http.ResponseWriter, r *http.Request) {
	s.forward(w, r, 8<<20, func(cl *client.Client, body []byte) (any, error) {
		raw, err := cl.SendPrescription(r.Context(), body)
		return raw, err
	})
}

// postSCOR sends the SCOR piece of sheet {number} (?billing= when the card
// holds several billing numbers).
func (s *server) postSCOR(w http.ResponseWriter, r *http.Request) {
	s.forward(w, r, lot.MaxPieceBytes, func(cl *client.Client, body []byte) (any, error) {
		st, err := cl.SendSCOR(r.Context(), r.URL.Query().Get("billing"), r.PathValue("number"), body)
		if err != nil {
			return nil, err
		}
		return map[string]any{"number": r.PathValue("number"), "scor": st}, nil
	})
}

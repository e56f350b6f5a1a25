package workstation

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/fsegate/fsegate/client"
)

// PostPrescription carries a signed prescription PDF to the gateway
// through the workstation (POST /v1/prescriptions); it returns the
// gateway's answer (id, prescriber, lines).
func (c *Client) PostPrescription(ctx context.Context, pdf []byte) (json.RawMessage, error) {
	var out json.RawMessage
	return out, c.do(ctx, http.MethodPost, "/v1/prescriptions", "application/pdf", bytes.NewReader(pdf), &out)
}

// PostSCOR sends the SCOR piece (scanned paper prescription, PDF or JPEG)
// of sheet number (billing may be "" when the card holds one billing
// number) through the workstation (POST /v1/sheets/{number}/scor).
func (c *Client) PostSCOR(ctx context.Context, billing, number string, piece []byte) (*client.SCOR, error) {
	q := url.Values{}
	if billing != "" {
		q.Set("billing", billing)
	}
	ctype := "application/pdf"
	if len(piece) > 2 && piece[0] == 0xFF && piece[1] == 0xD8 {
		ctype = "image/jpeg"
	}
	var out struct {
		SCOR *client.SCOR `json:"scor"`
	}
	return out.SCOR, c.do(ctx, http.MethodPost, "/v1/sheets/"+url.PathEscape(number)+"/scor?"+q.Encode(), ctype, bytes.NewReader(piece), &out)
}

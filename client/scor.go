package client

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
)

// SCOR is the state of a sheet's SCOR piece: awaiting, queued, batched,
// acknowledged, or refused (send it again).
type SCOR struct {
	State  string `json:"state"`
	Kind   string `json:"kind,omitempty"`
	Digest string `json:"digest,omitempty"`
	Lot    string `json:"lot,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Final reports whether nothing more will happen to the piece without
// the sender: acknowledged, or refused.
func (s *SCOR) Final() bool { return s == nil || s.State == "acknowledged" || s.State == "refused" }

// SendSCOR posts the SCOR piece (the scanned paper prescription, PDF or
// JPEG) of one of the caller's sheets.
func (c *Client) SendSCOR(ctx context.Context, billing, number string, piece []byte) (*SCOR, error) {
	var out struct {
		SCOR *SCOR `json:"scor"`
	}
	q := url.Values{"billing": {billing}}
	ctype := "application/pdf"
	if len(piece) > 2 && piece[0] == 0xFF && piece[1] == 0xD8 {
		ctype = "image/jpeg"
	}
	_, err := c.do(ctx, http.MethodPost, "/v1/sheets/"+url.PathEscape(number)+"/scor?"+q.Encode(), ctype, bytes.NewReader(piece), &out)
	if err != nil {
		return nil, err
	}
	return out.SCOR, nil
}

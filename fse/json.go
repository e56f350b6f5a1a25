package fse

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
)

// DecodeJSON reads a care sheet in JSON (the same model, field names as in
// docs/care-sheet.md): unknown fields, trailing data and values not of
// their type are refused. Absent fields are empty and Validate reports them.
func DecodeJSON(data []byte) (*Sheet, error) {
	if len(data) > MaxSize {
		return nil, single(ErrTooLarge, "", 0, "the sheet is "+strconv.Itoa(len(data))+" bytes, over the limit of "+strconv.Itoa(MaxSize))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	s := &Sheet{}
	if err := dec.Decode(s); err != nil {
		return nil, jsonError(data, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, single(ErrMalformed, "", 0, "data after the sheet object")
	}
	s.Created = s.Created.UTC()
	for i := range s.Lines {
		l := &s.Lines[i]
		path := linePath(i + 1)
		var extra bool
		switch l.Kind {
		case KindNGAP:
			extra = l.Code != "" || l.CIP13 != "" || l.Quantity != 0 || l.UnitPrice != 0 || l.Rate != 0 || l.Activity != 0 || l.Modifiers != "" || l.Base != 0
		case KindCCAM:
			extra = l.Key != "" || l.Coefficient != 0 || l.CIP13 != "" || l.Quantity != 0 || l.UnitPrice != 0 || l.Rate != 0 || l.Base != 0
		case KindDrug:
			extra = l.Key != "" || l.Coefficient != 0 || l.Code != "" || l.Activity != 0 || l.Modifiers != ""
		case KindFee:
			extra = l.Key != "" || l.Coefficient != 0 || l.CIP13 != "" || l.Activity != 0 || l.Modifiers != "" || l.Base != 0
		default:
			return nil, single(ErrValue, path+"/kind", 0, "line kind "+strconv.Quote(l.Kind)+" is not ngap, ccam, drug or fee")
		}
		switch l.Exemption {
		case ExemptionNone, ExemptionALD, ExemptionMaternity:
		default:
			return nil, single(ErrValue, path+"/exemption", 0, "exemption "+strconv.Quote(l.Exemption)+" is not ald or maternity")
		}
		if extra {
			return nil, single(ErrUnknownElement, path, 0, "fields of another kind of line on a "+l.Kind+" line")
		}
	}
	return s, nil
}

func jsonError(data []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off := int(se.Offset)
		if off > len(data) {
			off = len(data)
		}
		return single(ErrMalformed, "", lineAt(data, off), se.Error())
	case errors.As(err, &te):
		return single(ErrValue, strings.ReplaceAll(te.Field, ".", "/"), 0, "value of type "+te.Value+" where "+te.Type.String()+" is expected")
	case errors.Is(err, errValue):
		return single(ErrValue, "", 0, "a value is not of its type: "+err.Error())
	case strings.Contains(err.Error(), "unknown field"):
		return single(ErrUnknownElement, "", 0, strings.TrimPrefix(err.Error(), "json: "))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return single(ErrMalformed, "", 0, "unexpected end of JSON")
	}
	return single(ErrMalformed, "", 0, err.Error())
}

// EncodeJSON writes the sheet in JSON, indented.
func (s *Sheet) EncodeJSON() ([]byte, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

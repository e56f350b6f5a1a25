package card_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"github.com/fsegate/fsegate/signature"
	"github.com/fsegate/fsegate/signature/card"
)

// TestHolderOfNationalID: the card reads its holder as the gateway reads
// the signer (signature.IdentityOf): the national id of the IGC-Santé
// extension wins over the subject CN, and the RPPS or ADELI number comes
// from it.
func TestHolderOfNationalID(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	cert := func(cn, ext string) *x509.Certificate {
		t.Helper()
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: cn, OrganizationalUnit: []string{"CPS"}},
			NotBefore:    time.Unix(0, 0),
			NotAfter:     time.Unix(1<<32, 0),
		}
		if ext != "" {
			v, err := asn1.MarshalWithParams(ext, "utf8")
			if err != nil {
				t.Fatal(err)
			}
			tmpl.ExtraExtensions = []pkix.Extension{{Id: signature.OIDNationalID, Value: v}}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		name              string
		cn, ext           string
		wantID, rpps, adl string
	}{
		{"extension wins over the CN", "899999999999", "810001234567", "810001234567", "10001234567", ""},
		{"ADELI from the extension", "Dr Martin", "0751234567", "0751234567", "", "751234567"},
		{"no extension: the CN", "899700218896", "", "899700218896", "99700218896", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cert(tt.cn, tt.ext)
			h := card.HolderOf(c)
			if h.NationalID != tt.wantID || h.RPPS != tt.rpps || h.ADELI != tt.adl {
				t.Fatalf("got %q RPPS %q ADELI %q, want %q RPPS %q ADELI %q", h.NationalID, h.RPPS, h.ADELI, tt.wantID, tt.rpps, tt.adl)
			}
			if id := signature.IdentityOf(c); id.NationalID != h.NationalID || id.CardType != h.CardType {
				t.Fatalf("HolderOf %+v differs from IdentityOf %+v", h, id)
			}
		})
	}
}

package signature

import (
	"bytes"
	"errors"
	"testing"
)

func TestSignVerify(t *testing.T) {
	signed := signSample(t, "doctor", "sig")
	if !bytes.HasPrefix(signed, sampleSheet(t)[:200]) {
		t.Fatal("the original bytes were not kept")
	}
	v := &Verifier{Trust: devTrust(t, vectorNow), Now: fixedClock(vectorNow)}
	res, err := v.Verify(signed)
	if err != nil {
		t.Fatalf("verify: %v\n%s", err, signed)
	}
	if res.Signer.NationalID != "899700218896" || res.Signer.CardType != "CPS" || res.Signer.Profession != "Médecin" || res.Signer.Name() != "CLAIRE MARTIN" {
		t.Errorf("signer = %+v", res.Signer)
	}
	if !res.SigningTime.Equal(vectorSigningTime) {
		t.Errorf("signing time = %v, want %v", res.SigningTime, vectorSigningTime)
	}
	if res.Content.Tag != "CareSheet" {
		t.Errorf("content = %s", res.Content.Tag)
	}
	// Second time from the cache.
	if _, err := v.Verify(signed); err != nil {
		t.Fatal(err)
	}
	// Tampered.
	bad := bytes.Replace(signed, []byte("<Billed>58.42"), []byte("<Billed>958.42"), 1)
	_, err = v.Verify(bad)
	if !errors.Is(err, CodeDigestMismatch) {
		t.Fatalf("tampered: got %v, want DIGEST_MISMATCH", err)
	}
}

func TestSignSelfClosingRoot(t *testing.T) {
	s, c := card(t, "doctor", "sig")
	for _, doc := range []string{`<a xmlns="urn:x"/>`, "<a xmlns=\"urn:x\">t</a>\n<!-- c --> \n"} {
		out, err := SignOptions{Now: fixedClock(vectorSigningTime)}.Sign(t.Context(), []byte(doc), s, certs(c))
		if err != nil {
			t.Fatal(err)
		}
		v := &Verifier{Trust: devTrust(t, vectorNow), Now: fixedClock(vectorNow)}
		if _, err := v.Verify(out); err != nil {
			t.Errorf("%q: %v\n%s", doc, err, out)
		}
	}
}

package signature

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/digitorus/pdf"
	"github.com/digitorus/pdfsign/revocation"
	"github.com/digitorus/pdfsign/sign"
	pdfverify "github.com/digitorus/pdfsign/verify"
)

// PDFSignOptions tunes SignPDF. The zero value signs now, unnamed.
type PDFSignOptions struct {
	// Now gives the signing time; nil means time.Now.
	Now func() time.Time
	// Name, Reason and Location go into the signature dictionary.
	Name, Reason, Location string
}

// SignPDF signs a PDF with a detached CMS signature (pdfsign:
// adbe.pkcs7.detached, SHA-256, signing-certificate-v2), a certification
// signature that allows no later change. pdfsign hands signer a SHA-256
// digest (a card's digest path). chain[0] is the signer's certificate.
func SignPDF(ctx context.Context, doc []byte, signer crypto.Signer, chain []*x509.Certificate, opts PDFSignOptions) ([]byte, error) {
	if len(chain) == 0 {
		return nil, errors.New("sign PDF: no certificate")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sign PDF: %w", err)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	rdr, err := pdf.NewReader(bytes.NewReader(doc), int64(len(doc)))
	if err != nil {
		return nil, fmt.Errorf("sign PDF: read: %w", err)
	}
	var out bytes.Buffer
	err = sign.Sign(bytes.NewReader(doc), &out, rdr, int64(len(doc)), sign.SignData{
		Signature: sign.SignDataSignature{
			Info: sign.SignDataSignatureInfo{
				Name: opts.Name, Reason: opts.Reason, Location: opts.Location, Date: now(),
			},
			CertType:   sign.CertificationSignature,
			DocMDPPerm: sign.DoNotAllowAnyChangesPerms,
		},
		Signer:            signer,
		DigestAlgorithm:   crypto.SHA256,
		Certificate:       chain[0],
		CertificateChains: [][]*x509.Certificate{chain},
		// No network: revocation is the verifier's business.
		RevocationFunction: func(cert, issuer *x509.Certificate, i *revocation.InfoArchival) error { return nil },
	})
	if err != nil {
		return nil, fmt.Errorf("sign PDF: %w", err)
	}
	return out.Bytes(), nil
}

// PDFResult is what VerifyPDF found.
type PDFResult struct {
	Signer      Identity
	SigningTime time.Time // claimed by the signer (unsigned by any TSA)
	// Attachments are the document's embedded files, by name; they are
	// covered by the signature (which covers the whole file).
	Attachments map[string][]byte
	// Keywords and Subject of the document information dictionary.
	Keywords, Subject string
}

// VerifyPDF verifies a signed PDF: exactly one signature, whose byte range
// starts at 0 and reaches the end of the file (no update appended after
// signing), a valid CMS signature (pdfsign/verify), and our own checks of
// the signer's certificate: RSA ≥ 2048, nonRepudiation, chain to the
// verifier's roots, validity at the signing time, revocation now.
func (v *Verifier) VerifyPDF(data []byte) (res *PDFResult, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, &VerifyError{Problems: fail(CodePDFMalformed, "", "cannot read the PDF")}
		}
	}()
	rdr, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, &VerifyError{Problems: fail(CodePDFMalformed, "", "%v", err)}
	}
	sigs := signatureFields(rdr)
	switch {
	case len(sigs) == 0:
		return nil, &VerifyError{Problems: fail(CodeSignatureMissing, "", "the PDF holds no signature")}
	case len(sigs) > 1:
		return nil, &VerifyError{Problems: fail(CodeSignatureWrapping, "", "the PDF holds %d signatures, one is expected", len(sigs))}
	}
	br := sigs[0].Key("ByteRange")
	if br.Len() != 4 || br.Index(0).Int64() != 0 || br.Index(2).Int64()+br.Index(3).Int64() != int64(len(data)) ||
		br.Index(1).Int64() > br.Index(2).Int64() {
		return nil, &VerifyError{Problems: fail(CodePDFIncompleteCover, "ByteRange", "the signature does not cover the whole file")}
	}
	resp, err := pdfverify.VerifyWithOptions(bytes.NewReader(data), int64(len(data)), &pdfverify.VerifyOptions{
		AllowUntrustedRoots: true, TrustSignatureTime: true,
	})
	if err != nil || resp == nil || len(resp.Signers) != 1 {
		msg := "cannot verify the signature"
		if err != nil {
			msg = err.Error()
		}
		return nil, &VerifyError{Problems: fail(CodePDFMalformed, "", "%s", msg)}
	}
	s := resp.Signers[0]
	if len(s.Certificates) == 0 {
		return nil, &VerifyError{Problems: fail(CodeSignatureInvalid, "", "no signer certificate")}
	}
	cert := s.Certificates[0].Certificate
	res = &PDFResult{Signer: IdentityOf(cert), Attachments: attachments(rdr)}
	info := rdr.Trailer().Key("Info")
	res.Keywords, res.Subject = info.Key("Keywords").Text(), info.Key("Subject").Text()
	var ps []Problem
	if !s.ValidSignature {
		ps = append(ps, problem(CodeSignatureInvalid, "", "the CMS signature does not verify"))
	}
	if bits := rsaBits(cert); bits < MinRSABits {
		ps = append(ps, problem(CodeAlgorithmForbidden, "", "RSA key of %d bits, %d required", bits, MinRSABits))
	}
	if cert.KeyUsage&x509.KeyUsageContentCommitment == 0 {
		ps = append(ps, problem(CodeKeyUsage, "", "the certificate is not a signature (nonRepudiation) certificate"))
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	st := now()
	if s.SignatureTime != nil {
		st = *s.SignatureTime
		res.SigningTime = st
		if st.After(now().Add(clockSkew)) {
			ps = append(ps, problem(CodeSigningTimeInvalid, "", "signing time in the future"))
		}
	}
	trust := v.Trust
	if trust == nil {
		trust = &TrustStore{}
	}
	ce, err := trust.certificateDER(sha256Sum(cert.Raw), cert.Raw)
	if err != nil {
		ps = append(ps, problem(CodeSignatureInvalid, "", "%v", err))
	} else {
		ps = append(ps, trust.checkCert(ce, st, x509.ExtKeyUsageAny)...)
	}
	if len(ps) > 0 {
		return res, &VerifyError{Problems: ps}
	}
	return res, nil
}

// signatureFields lists the signature values (/V of /FT /Sig fields).
func signatureFields(rdr *pdf.Reader) []pdf.Value {
	var out []pdf.Value
	var walk func(fields pdf.Value, depth int)
	walk = func(fields pdf.Value, depth int) {
		if depth > 8 {
			return
		}
		for i := 0; i < fields.Len(); i++ {
			f := fields.Index(i)
			if f.Key("FT").Name() == "Sig" && !f.Key("V").IsNull() {
				out = append(out, f.Key("V"))
			}
			walk(f.Key("Kids"), depth+1)
		}
	}
	walk(rdr.Trailer().Key("Root").Key("AcroForm").Key("Fields"), 0)
	return out
}

// attachments reads the document's embedded files (Names/EmbeddedFiles).
func attachments(rdr *pdf.Reader) map[string][]byte {
	out := map[string][]byte{}
	var walk func(node pdf.Value, depth int)
	walk = func(node pdf.Value, depth int) {
		if depth > 8 {
			return
		}
		names := node.Key("Names")
		for i := 0; i+1 < names.Len(); i += 2 {
			fs := names.Index(i + 1)
			name := fs.Key("UF").Text()
			if name == "" {
				name = fs.Key("F").Text()
			}
			if name == "" {
				name = names.Index(i).Text()
			}
			f := fs.Key("EF").Key("F")
			if f.IsNull() {
				continue
			}
			rc := f.Reader()
			b, err := io.ReadAll(io.LimitReader(rc, 16<<20))
			rc.Close()
			if err == nil {
				out[name] = b
			}
		}
		kids := node.Key("Kids")
		for i := 0; i < kids.Len(); i++ {
			walk(kids.Index(i), depth+1)
		}
	}
	walk(rdr.Trailer().Key("Root").Key("Names").Key("EmbeddedFiles"), 0)
	return out
}

func rsaBits(c *x509.Certificate) int {
	if k, ok := c.PublicKey.(*rsa.PublicKey); ok {
		return k.N.BitLen()
	}
	return 0
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

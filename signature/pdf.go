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

// MaxPDFEmbedded is how many bytes the embedded files of a PDF may inflate
// to, all together, and MaxPDFEmbeddedFiles how many there may be; past
// either VerifyPDF refuses the PDF (PDF_EMBEDDED_TOO_LARGE). A few kilobytes
// of deflated zeros inflate to megabytes: the limit is on what they
// inflate to, checked without keeping it.
const (
	MaxPDFEmbedded      = 1 << 20
	MaxPDFEmbeddedFiles = 16
)

// maxPDFTreeNodes bounds the nodes of a tree VerifyPDF walks (signature
// fields, embedded files): kids may point to one node many times over.
const maxPDFTreeNodes = 1024

// PDFResult is what VerifyPDF found.
type PDFResult struct {
	Signer      Identity
	SigningTime time.Time // claimed by the signer (unsigned by any TSA)
	// Keywords and Subject of the document information dictionary.
	Keywords, Subject string

	files map[string]pdf.Value // embedded files by name, once verified
}

// Attachment reads one embedded file of the document by its name (the
// file specification's UF, else F, else its key in the name tree). Only a
// PDF VerifyPDF accepted has any: its files are covered by the signature
// (which covers the whole file) and were measured within MaxPDFEmbedded.
// A name the document does not hold gives ErrNoAttachment.
func (r *PDFResult) Attachment(name string) (data []byte, err error) {
	f, ok := r.files[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNoAttachment, name)
	}
	defer func() {
		if p := recover(); p != nil {
			data, err = nil, &VerifyError{Problems: fail(CodePDFMalformed, "", "embedded file %q cannot be read", name)}
		}
	}()
	var b bytes.Buffer
	if _, err := inflate(&b, f, MaxPDFEmbedded); err != nil {
		return nil, &VerifyError{Problems: fail(CodePDFMalformed, "", "embedded file %q: %v", name, err)}
	}
	if b.Len() > MaxPDFEmbedded {
		return nil, &VerifyError{Problems: fail(CodePDFEmbeddedTooLarge, "", "embedded file %q inflates to more than %d bytes", name, MaxPDFEmbedded)}
	}
	return b.Bytes(), nil
}

// ErrNoAttachment is PDFResult.Attachment's error for a name the document
// does not hold.
var ErrNoAttachment = errors.New("no such embedded file")

// VerifyPDF verifies a signed PDF: exactly one signature, whose byte range
// starts at 0 and reaches the end of the file (no update appended after
// signing), a valid CMS signature (pdfsign/verify), and our own checks of
// the signer's certificate: RSA ≥ 2048, nonRepudiation, chain to the
// verifier's roots, validity at the signing time, revocation now. Only
// then are the embedded files looked at: at most MaxPDFEmbeddedFiles,
// inflating to MaxPDFEmbedded bytes together, measured as they inflate and
// not kept (PDFResult.Attachment reads the one a caller needs).
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
	res = &PDFResult{Signer: IdentityOf(cert)}
	info := rdr.Trailer().Key("Info")
	res.Keywords, res.Subject = info.Key("Keywords").Text(), info.Key("Subject").Text()
	var ps []Problem
	if !s.ValidSignature {
		ps = append(ps, newProblem(CodeSignatureInvalid, "", "the CMS signature does not verify"))
	}
	if bits := rsaBits(cert); bits < MinRSABits {
		ps = append(ps, newProblem(CodeAlgorithmForbidden, "", "RSA key of %d bits, %d required", bits, MinRSABits))
	}
	if cert.KeyUsage&x509.KeyUsageContentCommitment == 0 {
		ps = append(ps, newProblem(CodeKeyUsage, "", "the certificate is not a signature (nonRepudiation) certificate"))
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
			ps = append(ps, newProblem(CodeSigningTimeInvalid, "", "signing time in the future"))
		}
	}
	trust := v.Trust
	if trust == nil {
		trust = &TrustStore{}
	}
	ce, err := trust.certificateDER(sha256Sum(cert.Raw), cert.Raw)
	if err != nil {
		ps = append(ps, newProblem(CodeSignatureInvalid, "", "%v", err))
	} else {
		ps = append(ps, trust.checkCert(ce, st, x509.ExtKeyUsageAny)...)
	}
	if len(ps) > 0 {
		return res, &VerifyError{Problems: ps}
	}
	files, ps := embeddedFiles(rdr)
	if len(ps) > 0 {
		return res, &VerifyError{Problems: ps}
	}
	res.files = files
	return res, nil
}

// signatureFields lists the signature values (/V of /FT /Sig fields).
func signatureFields(rdr *pdf.Reader) []pdf.Value {
	var out []pdf.Value
	visits := 0
	var walk func(fields pdf.Value, depth int)
	walk = func(fields pdf.Value, depth int) {
		if depth > 8 {
			return
		}
		for i := 0; i < fields.Len() && visits < maxPDFTreeNodes; i++ {
			visits++
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

// embeddedFiles finds the document's embedded files (Names/EmbeddedFiles)
// and measures what they inflate to, together, keeping none of it: past
// MaxPDFEmbeddedFiles files or MaxPDFEmbedded bytes, PDF_EMBEDDED_TOO_LARGE;
// two files of one name or one that cannot be read, PDF_MALFORMED.
func embeddedFiles(rdr *pdf.Reader) (map[string]pdf.Value, []Problem) {
	out := map[string]pdf.Value{}
	var ps []Problem
	var total int64
	visits := 0
	var walk func(node pdf.Value, depth int)
	walk = func(node pdf.Value, depth int) {
		if depth > 8 {
			return
		}
		if visits++; visits > maxPDFTreeNodes {
			ps = fail(CodePDFMalformed, "", "the embedded files' name tree has more than %d nodes", maxPDFTreeNodes)
			return
		}
		names := node.Key("Names")
		for i := 0; i+1 < names.Len() && ps == nil; i += 2 {
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
			if _, dup := out[name]; dup {
				ps = fail(CodePDFMalformed, "", "two embedded files are named %q", name)
				return
			}
			if len(out) == MaxPDFEmbeddedFiles {
				ps = fail(CodePDFEmbeddedTooLarge, "", "more than %d embedded files", MaxPDFEmbeddedFiles)
				return
			}
			out[name] = f
			n, err := inflate(io.Discard, f, MaxPDFEmbedded-total)
			if err != nil {
				ps = fail(CodePDFMalformed, "", "embedded file %q: %v", name, err)
				return
			}
			if total += n; total > MaxPDFEmbedded {
				ps = fail(CodePDFEmbeddedTooLarge, "", "the embedded files inflate to more than %d bytes", MaxPDFEmbedded)
				return
			}
		}
		kids := node.Key("Kids")
		for i := 0; i < kids.Len() && ps == nil; i++ {
			walk(kids.Index(i), depth+1)
		}
	}
	walk(rdr.Trailer().Key("Root").Key("Names").Key("EmbeddedFiles"), 0)
	return out, ps
}

// inflate copies an embedded file stream to w, stopping one byte past
// limit: it returns how many bytes it copied (limit+1 when the file is
// larger). Only unfiltered and FlateDecode streams without predictor are
// read (the reader allocates what a predictor's parameters ask).
func inflate(w io.Writer, f pdf.Value, limit int64) (int64, error) {
	switch filter := f.Key("Filter"); {
	case filter.IsNull():
	case filter.Name() == "FlateDecode", filter.Len() == 1 && filter.Index(0).Name() == "FlateDecode":
		if !f.Key("DecodeParms").IsNull() {
			return 0, errors.New("decode parameters are not allowed")
		}
	default:
		return 0, errors.New("only FlateDecode is allowed")
	}
	rc := f.Reader()
	defer rc.Close()
	return io.Copy(w, io.LimitReader(rc, max(limit, 0)+1))
}

func rsaBits(c *x509.Certificate) int {
	if k, ok := c.PublicKey.(*rsa.PublicKey); ok {
		return k.N.BitLen()
	}
	return 0
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

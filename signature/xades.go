package signature

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/beevik/etree"
	"github.com/fsegate/fsegate/signature/internal/c14n"
)

// Namespaces and algorithm identifiers of XMLDSig and XAdES.
const (
	NSDSig  = "http://www.w3.org/2000/09/xmldsig#"
	NSXAdES = "http://uri.etsi.org/01903/v1.3.2#"

	AlgExcC14N        = "http://www.w3.org/2001/10/xml-exc-c14n#"
	AlgEnveloped      = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
	AlgRSASHA256      = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	AlgSHA256         = "http://www.w3.org/2001/04/xmlenc#sha256"
	TypeSignedProps   = "http://uri.etsi.org/01903#SignedProperties"
	signedPropsSuffix = "-signedprops"
)

// SignOptions tunes Sign. The zero value signs with the current time and
// crypto/rand.
type SignOptions struct {
	// Now gives the signing time written in the SignedProperties; nil
	// means time.Now.
	Now func() time.Time
	// Rand is passed to the signer; nil means crypto/rand.Reader.
	Rand io.Reader
}

// Sign signs doc with SignOptions{}.
func Sign(ctx context.Context, doc []byte, signer crypto.MessageSigner, chain []*x509.Certificate) ([]byte, error) {
	return SignOptions{}.Sign(ctx, doc, signer, chain)
}

// Sign adds an enveloped XAdES-BES signature to doc as the last child of its
// root element: RSA-SHA256 over the exclusive canonical SignedInfo, one
// reference to the whole document (enveloped-signature, exc-C14N) and one to
// the SignedProperties (SigningTime, SigningCertificateV2), chain[0] in
// KeyInfo. The signer gets the canonical SignedInfo to hash (a card hashes
// it with PSO HASH). doc's bytes are kept as they are: the signature is
// inserted before the root's end tag.
func (o SignOptions) Sign(ctx context.Context, doc []byte, signer crypto.MessageSigner, chain []*x509.Certificate) ([]byte, error) {
	if len(chain) == 0 {
		return nil, errors.New("sign: no certificate")
	}
	cert := chain[0]
	if _, ok := cert.PublicKey.(*rsa.PublicKey); !ok {
		return nil, errors.New("sign: the certificate's key is not RSA")
	}
	// The same reading as ParseDocument's, so that nothing is signed that
	// the verifier would refuse to read.
	d, ps := readUnsigned(doc)
	if len(ps) > 0 {
		return nil, fmt.Errorf("sign: %w", &VerifyError{Problems: ps})
	}
	root := d.Root()
	var cz c14n.Canonicalizer
	canon, err := cz.Document(nil, d, nil)
	if err != nil {
		return nil, fmt.Errorf("sign: canonicalize document: %w", err)
	}
	docDigest := sha256.Sum256(canon)
	id := "sig-" + hex.EncodeToString(docDigest[:8])
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	signingTime := now().UTC().Truncate(time.Second)

	sig := root.CreateElement("ds:Signature")
	sig.CreateAttr("xmlns:ds", NSDSig)
	sig.CreateAttr("Id", id)
	si := sig.CreateElement("ds:SignedInfo")
	si.CreateElement("ds:CanonicalizationMethod").CreateAttr("Algorithm", AlgExcC14N)
	si.CreateElement("ds:SignatureMethod").CreateAttr("Algorithm", AlgRSASHA256)
	ref := si.CreateElement("ds:Reference")
	ref.CreateAttr("URI", "")
	tr := ref.CreateElement("ds:Transforms")
	tr.CreateElement("ds:Transform").CreateAttr("Algorithm", AlgEnveloped)
	tr.CreateElement("ds:Transform").CreateAttr("Algorithm", AlgExcC14N)
	ref.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", AlgSHA256)
	ref.CreateElement("ds:DigestValue").SetText(base64.StdEncoding.EncodeToString(docDigest[:]))
	pref := si.CreateElement("ds:Reference")
	pref.CreateAttr("Type", TypeSignedProps)
	pref.CreateAttr("URI", "#"+id+signedPropsSuffix)
	pref.CreateElement("ds:Transforms").CreateElement("ds:Transform").CreateAttr("Algorithm", AlgExcC14N)
	pref.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", AlgSHA256)
	propsDigest := pref.CreateElement("ds:DigestValue")

	sigValue := sig.CreateElement("ds:SignatureValue")
	sig.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").
		SetText(base64.StdEncoding.EncodeToString(cert.Raw))

	qp := sig.CreateElement("ds:Object").CreateElement("xades:QualifyingProperties")
	qp.CreateAttr("xmlns:xades", NSXAdES)
	qp.CreateAttr("Target", "#"+id)
	sp := qp.CreateElement("xades:SignedProperties")
	sp.CreateAttr("Id", id+signedPropsSuffix)
	ssp := sp.CreateElement("xades:SignedSignatureProperties")
	ssp.CreateElement("xades:SigningTime").SetText(signingTime.Format(time.RFC3339))
	xc := ssp.CreateElement("xades:SigningCertificateV2").CreateElement("xades:Cert")
	cd := xc.CreateElement("xades:CertDigest")
	cd.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", AlgSHA256)
	certDigest := sha256.Sum256(cert.Raw)
	cd.CreateElement("ds:DigestValue").SetText(base64.StdEncoding.EncodeToString(certDigest[:]))
	is, err := issuerSerialV2(cert)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	xc.CreateElement("xades:IssuerSerialV2").SetText(base64.StdEncoding.EncodeToString(is))

	canon, err = cz.Element(canon[:0], sp, nil)
	if err != nil {
		return nil, fmt.Errorf("sign: canonicalize signed properties: %w", err)
	}
	pd := sha256.Sum256(canon)
	propsDigest.SetText(base64.StdEncoding.EncodeToString(pd[:]))
	canon, err = cz.Element(canon[:0], si, nil)
	if err != nil {
		return nil, fmt.Errorf("sign: canonicalize SignedInfo: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	rnd := o.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	sv, err := signer.SignMessage(rnd, canon, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, sha256sum(canon), sv); err != nil {
		return nil, errors.New("sign: the signer's key does not match the certificate")
	}
	sigValue.SetText(base64.StdEncoding.EncodeToString(sv))

	var sb bytes.Buffer
	sig.WriteTo(&sb, &d.WriteSettings)
	return splice(doc, root, sb.Bytes())
}

func sha256sum(b []byte) []byte { h := sha256.Sum256(b); return h[:] }

// issuerSerialV2 is the DER IssuerSerial of RFC 5035 (issuer as a
// directoryName GeneralName, serial number).
func issuerSerialV2(c *x509.Certificate) ([]byte, error) {
	type issuerSerial struct {
		Issuer []asn1.RawValue
		Serial asn1.RawValue
	}
	serial, err := asn1.Marshal(c.SerialNumber)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(issuerSerial{
		Issuer: []asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: c.RawIssuer}},
		Serial: asn1.RawValue{FullBytes: serial},
	})
}

// splice inserts sig before the end tag of the root element in doc.
func splice(doc []byte, root *etree.Element, sig []byte) ([]byte, error) {
	end := len(doc)
	// Skip what may follow the root: whitespace, comments, PIs.
	for {
		t := bytes.TrimRight(doc[:end], " \t\r\n")
		switch {
		case bytes.HasSuffix(t, []byte("-->")):
			end = bytes.LastIndex(t, []byte("<!--"))
		case bytes.HasSuffix(t, []byte("?>")):
			end = bytes.LastIndex(t, []byte("<?"))
		default:
			end = len(t)
		}
		if end < 0 {
			return nil, errors.New("sign: cannot find the root element's end")
		}
		if end == len(t) {
			break
		}
	}
	name := root.FullTag()
	t := doc[:end]
	out := make([]byte, 0, len(doc)+len(sig)+len(name)+3)
	if bytes.HasSuffix(t, []byte("/>")) {
		// <Root .../> becomes <Root ...>SIG</Root>.
		out = append(out, t[:len(t)-2]...)
		out = append(out, '>')
		out = append(out, sig...)
		out = append(out, "</"...)
		out = append(out, name...)
		out = append(out, '>')
	} else {
		i := bytes.LastIndex(t, []byte("</"))
		if i < 0 || string(bytes.TrimRight(t[i+2:len(t)-1], " \t\r\n")) != name {
			return nil, errors.New("sign: cannot find the root element's end tag")
		}
		out = append(out, t[:i]...)
		out = append(out, sig...)
		out = append(out, t[i:]...)
	}
	return append(out, doc[end:]...), nil
}

// MessageSigner adapts a crypto.Signer holding a software key (an
// *rsa.PrivateKey) to crypto.MessageSigner: it hashes, then signs.
type MessageSigner struct{ crypto.Signer }

// SignMessage hashes msg with opts.HashFunc() and signs the digest.
func (s MessageSigner) SignMessage(rand io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	h := opts.HashFunc().New()
	h.Write(msg)
	return s.Sign(rand, h.Sum(nil), opts)
}

package signature

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"sync"
	"time"

	"github.com/beevik/etree"
	"github.com/fsegate/fsegate/signature/internal/c14n"
)

// DefaultMaxSigningAge is how far back a signing time may lie when
// Verifier.MaxSigningAge is zero.
const DefaultMaxSigningAge = 90 * 24 * time.Hour

// clockSkew is how far in the future a signing time may lie.
const clockSkew = 5 * time.Minute

// MinRSABits is the smallest RSA key accepted for a signature.
const MinRSABits = 2048

// Verifier checks enveloped XAdES-BES signatures. Its zero value trusts
// nothing (every signature gets CERT_UNTRUSTED); set Trust. It is safe for
// concurrent use.
type Verifier struct {
	// Trust holds the roots, intermediates and CRLs.
	Trust *TrustStore
	// Now is the verifier's clock; nil means time.Now.
	Now func() time.Time
	// MaxSigningAge is how far back the claimed signing time may lie (the
	// sending deadline); zero means DefaultMaxSigningAge.
	MaxSigningAge time.Duration
}

// Result is what a verification found. On failure it holds what could be
// read (e.g. the signer) next to the error.
type Result struct {
	// Signer is who signed, from the KeyInfo certificate.
	Signer Identity
	// SigningTime is the claimed signing time (signed).
	SigningTime time.Time
	// Content is the signed content: the document's root element, which the
	// whole-document reference covers. Its last child is the signature;
	// skip Signature when reading it. Use nothing outside Content.
	Content *etree.Element
	// Signature is the ds:Signature element.
	Signature *etree.Element
	// ContentDigest is the SHA-256 of the exclusive canonical form of the
	// document without its signature: the same for the same sheet
	// whoever signed it and whenever.
	ContentDigest [32]byte
}

var scratchPool = sync.Pool{New: func() any { return &scratch{buf: make([]byte, 0, 8192)} }}

type scratch struct {
	buf []byte
	cz  c14n.Canonicalizer
}

// Verify parses data (the exact received bytes) with ParseDocument and
// verifies its signature. The error, when not nil, is a *VerifyError
// listing every problem found.
func (v *Verifier) Verify(data []byte) (*Result, error) {
	doc, err := ParseDocument(data)
	if err != nil {
		return nil, err
	}
	return v.VerifyDocument(doc)
}

// VerifyDocument verifies a document parsed by ParseDocument, so a caller
// can share the one parse with its decoder. It does not modify doc.
func (v *Verifier) VerifyDocument(doc *Document) (*Result, error) {
	res, ps := v.verify(doc.doc)
	if len(ps) > 0 {
		return res, &VerifyError{Problems: ps}
	}
	return res, nil
}

func fail(code Code, path, format string, a ...any) []Problem {
	return []Problem{newProblem(code, path, format, a...)}
}

type sigParts struct {
	signedInfo, sigValue, keyInfo, object *etree.Element
	docRef, propsRef                      *etree.Element
	sigMethod                             string
	signedProps                           *etree.Element
}

func nsOf(el *etree.Element) string { return el.NamespaceURI() }

func isDS(el *etree.Element, local string) bool {
	return el.Tag == local && nsOf(el) == NSDSig
}

func (v *Verifier) verify(doc *etree.Document) (*Result, []Problem) {
	root := doc.Root()
	if root == nil {
		return nil, fail(CodeXMLMalformed, "", "no root element")
	}
	res := &Result{Content: root}

	// The signature: the last child element of the root, and the only one.
	var sig *etree.Element
	for i := len(root.Child) - 1; i >= 0; i-- {
		if el, ok := root.Child[i].(*etree.Element); ok {
			sig = el
			break
		}
	}
	if sig == nil || !isDS(sig, "Signature") {
		if n := countSignatures(root); n > 0 {
			return res, fail(CodeSignatureWrapping, "Signature", "the signature is not the last child of the root element")
		}
		return res, fail(CodeSignatureMissing, "", "no ds:Signature")
	}
	res.Signature = sig
	p, ps := parseSignature(sig)
	if len(ps) > 0 {
		return res, ps
	}

	// Signer certificate (from the cache after the first time).
	trust := v.Trust
	if trust == nil {
		trust = &TrustStore{}
	}
	x509El := child(child(p.keyInfo, "X509Data"), "X509Certificate")
	if x509El == nil {
		return res, fail(CodeSignatureInvalid, "Signature/KeyInfo", "no X509Certificate")
	}
	ce, err := trust.certificate(x509El.Text())
	if err != nil {
		return res, fail(CodeSignatureInvalid, "Signature/KeyInfo", "%v", err)
	}
	cert := ce.cert
	res.Signer = IdentityOf(cert)
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return res, fail(CodeAlgorithmForbidden, "Signature/KeyInfo", "the signer's key is not RSA")
	}
	if pub.N.BitLen() < MinRSABits {
		return res, fail(CodeAlgorithmForbidden, "Signature/KeyInfo", "RSA key of %d bits, %d required", pub.N.BitLen(), MinRSABits)
	}

	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)

	// 1. SignatureValue over the canonical SignedInfo.
	sv, err := base64.StdEncoding.AppendDecode(nil, []byte(stripSpace(p.sigValue.Text())))
	if err != nil {
		return res, fail(CodeSignatureInvalid, "Signature/SignatureValue", "not base64")
	}
	sc.cz.Visit = nil
	sc.buf, err = sc.cz.Element(sc.buf[:0], p.signedInfo, nil)
	if err != nil {
		return res, fail(CodeXMLMalformed, "Signature/SignedInfo", "%v", err)
	}
	var integrity []Problem
	h, hid := digestSigned(p.sigMethod, sc.buf)
	if err := rsa.VerifyPKCS1v15(pub, hid, h, sv); err != nil {
		integrity = append(integrity, newProblem(CodeSignatureInvalid, "Signature/SignatureValue", "the signature value does not verify with the signer's certificate"))
	}

	// 2. The whole document, without the signature (ParseDocument saw to
	// it that there is no other).
	sc.buf, err = sc.cz.Document(sc.buf[:0], doc, sig)
	if err != nil {
		return res, fail(CodeXMLMalformed, "", "%v", err)
	}
	res.ContentDigest = sha256.Sum256(sc.buf)
	if !digestMatches(p.docRef, sc.buf) {
		integrity = append(integrity, newProblem(CodeDigestMismatch, "Signature/SignedInfo/Reference[@URI='']", "the document was changed after signing"))
	}

	// 3. The SignedProperties.
	sc.buf, err = sc.cz.Element(sc.buf[:0], p.signedProps, nil)
	if err != nil {
		return res, fail(CodeXMLMalformed, "Signature/Object", "%v", err)
	}
	propsOK := digestMatches(p.propsRef, sc.buf)
	if !propsOK {
		integrity = append(integrity, newProblem(CodeDigestMismatch, "Signature/SignedInfo/Reference[@Type=SignedProperties]", "the signed properties were changed after signing"))
	}

	// 4. Signed properties: signing certificate and signing time.
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	tnow := now()
	ssp := child(p.signedProps, "SignedSignatureProperties")
	var ps2 []Problem
	st, err := time.Parse(time.RFC3339, child(ssp, "SigningTime").Text())
	if err != nil {
		ps2 = append(ps2, newProblem(CodeSigningTimeInvalid, "SignedProperties/SigningTime", "missing or not an xsd:dateTime"))
		st = tnow
	} else {
		res.SigningTime = st
		maxAge := v.MaxSigningAge
		if maxAge == 0 {
			maxAge = DefaultMaxSigningAge
		}
		if propsOK && (st.After(tnow.Add(clockSkew)) || tnow.Sub(st) > maxAge) {
			ps2 = append(ps2, newProblem(CodeSigningTimeInvalid, "SignedProperties/SigningTime", "signing time %s is in the future or older than %s", st.UTC().Format(time.RFC3339), maxAge))
		}
	}
	if !propsOK {
		st = tnow
	}
	if !signingCertMatches(ssp, cert) {
		ps2 = append(ps2, newProblem(CodeSignatureInvalid, "SignedProperties/SigningCertificateV2", "the signing certificate digest does not match the KeyInfo certificate"))
	}

	// 5. Trust: chain, validity at the signing time, revocation now, key
	// usage nonRepudiation.
	if cert.KeyUsage&x509.KeyUsageContentCommitment == 0 {
		ps2 = append(ps2, newProblem(CodeKeyUsage, "Signature/KeyInfo", "the certificate is not a signature (nonRepudiation) certificate"))
	}
	ps2 = append(ps2, trust.checkCert(ce, st, x509.ExtKeyUsageAny)...)
	return res, append(integrity, ps2...)
}

func digestSigned(method string, b []byte) ([]byte, crypto.Hash) {
	switch method {
	case AlgRSASHA384:
		h := sha512.Sum384(b)
		return h[:], crypto.SHA384
	case AlgRSASHA512:
		h := sha512.Sum512(b)
		return h[:], crypto.SHA512
	}
	h := sha256.Sum256(b)
	return h[:], crypto.SHA256
}

// More allowed algorithms (never produced, accepted).
const (
	AlgRSASHA384 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
	AlgRSASHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
	AlgSHA384    = "http://www.w3.org/2001/04/xmldsig-more#sha384"
	AlgSHA512    = "http://www.w3.org/2001/04/xmlenc#sha512"
)

func digestMatches(ref *etree.Element, b []byte) bool {
	want, err := base64.StdEncoding.DecodeString(stripSpace(child(ref, "DigestValue").Text()))
	if err != nil {
		return false
	}
	var got []byte
	switch child(ref, "DigestMethod").SelectAttrValue("Algorithm", "") {
	case AlgSHA256:
		h := sha256.Sum256(b)
		got = h[:]
	case AlgSHA384:
		h := sha512.Sum384(b)
		got = h[:]
	case AlgSHA512:
		h := sha512.Sum512(b)
		got = h[:]
	default:
		return false
	}
	return subtle.ConstantTimeCompare(got, want) == 1
}

func signingCertMatches(ssp *etree.Element, cert *x509.Certificate) bool {
	certs := child(child(ssp, "SigningCertificateV2"), "Cert")
	cd := child(certs, "CertDigest")
	if cd == nil {
		return false
	}
	alg := child(cd, "DigestMethod").SelectAttrValue("Algorithm", "")
	want, err := base64.StdEncoding.DecodeString(stripSpace(child(cd, "DigestValue").Text()))
	if err != nil {
		return false
	}
	var got []byte
	switch alg {
	case AlgSHA256:
		h := sha256.Sum256(cert.Raw)
		got = h[:]
	case AlgSHA512:
		h := sha512.Sum512(cert.Raw)
		got = h[:]
	default:
		return false
	}
	return subtle.ConstantTimeCompare(got, want) == 1
}

// child is the first child element with that local name, or nil (nil-safe).
func child(el *etree.Element, local string) *etree.Element {
	if el == nil {
		return nil
	}
	for _, t := range el.Child {
		if c, ok := t.(*etree.Element); ok && c.Tag == local {
			return c
		}
	}
	return nil
}

// elements lists the child elements, failing on non-blank text.
func elements(el *etree.Element) ([]*etree.Element, bool) {
	var out []*etree.Element
	for _, t := range el.Child {
		switch t := t.(type) {
		case *etree.Element:
			out = append(out, t)
		case *etree.CharData:
			for i := 0; i < len(t.Data); i++ {
				switch t.Data[i] {
				case ' ', '\t', '\r', '\n':
				default:
					return nil, false
				}
			}
		}
	}
	return out, true
}

func countSignatures(el *etree.Element) int {
	n := 0
	for _, t := range el.Child {
		if c, ok := t.(*etree.Element); ok {
			if c.Tag == "Signature" && nsOf(c) == NSDSig {
				n++
			}
			n += countSignatures(c)
		}
	}
	return n
}

// parseSignature checks the shape of the signature: exactly what Sign
// writes, in that order, nothing unsigned besides SignatureValue and
// KeyInfo.
func parseSignature(sig *etree.Element) (*sigParts, []Problem) {
	kids, ok := elements(sig)
	if !ok || len(kids) != 4 || !isDS(kids[0], "SignedInfo") || !isDS(kids[1], "SignatureValue") ||
		!isDS(kids[2], "KeyInfo") || !isDS(kids[3], "Object") {
		return nil, fail(CodeSignatureWrapping, "Signature", "the signature must hold SignedInfo, SignatureValue, KeyInfo and one Object, and nothing else")
	}
	p := &sigParts{signedInfo: kids[0], sigValue: kids[1], keyInfo: kids[2], object: kids[3]}
	if ok := countSignatures(sig) == 0; !ok {
		return nil, fail(CodeSignatureWrapping, "Signature", "a signature inside the signature")
	}
	sik, ok := elements(p.signedInfo)
	if !ok || len(sik) != 4 || !isDS(sik[0], "CanonicalizationMethod") || !isDS(sik[1], "SignatureMethod") ||
		!isDS(sik[2], "Reference") || !isDS(sik[3], "Reference") {
		return nil, fail(CodeSignatureWrapping, "Signature/SignedInfo", "SignedInfo must hold a canonicalization method, a signature method and exactly two references")
	}
	if alg := sik[0].SelectAttrValue("Algorithm", ""); alg != AlgExcC14N || len(sik[0].ChildElements()) != 0 {
		return nil, fail(CodeAlgorithmForbidden, "Signature/SignedInfo/CanonicalizationMethod", "canonicalization %q is not allowed (exclusive C14N without prefix list only)", alg)
	}
	p.sigMethod = sik[1].SelectAttrValue("Algorithm", "")
	switch p.sigMethod {
	case AlgRSASHA256, AlgRSASHA384, AlgRSASHA512:
	default:
		return nil, fail(CodeAlgorithmForbidden, "Signature/SignedInfo/SignatureMethod", "signature algorithm %q is not allowed", p.sigMethod)
	}

	// The Object: QualifyingProperties targeting this signature, holding
	// the SignedProperties only.
	ok = false
	if ok2 := len(p.object.Attr) == 0; ok2 {
		if ok3 := sig.SelectAttrValue("Id", "") != ""; ok3 {
			ok = true
		}
	}
	objKids, ok4 := elements(p.object)
	if !ok || !ok4 || len(objKids) != 1 || objKids[0].Tag != "QualifyingProperties" || nsOf(objKids[0]) != NSXAdES ||
		objKids[0].SelectAttrValue("Target", "") != "#"+sig.SelectAttrValue("Id", "") {
		return nil, fail(CodeSignatureWrapping, "Signature/Object", "the Object must hold only the QualifyingProperties of this signature")
	}
	qpKids, ok5 := elements(objKids[0])
	if !ok5 || len(qpKids) != 1 || qpKids[0].Tag != "SignedProperties" || nsOf(qpKids[0]) != NSXAdES {
		return nil, fail(CodeSignatureWrapping, "Signature/Object/QualifyingProperties", "QualifyingProperties must hold the SignedProperties only")
	}
	p.signedProps = qpKids[0]
	spID := p.signedProps.SelectAttrValue("Id", "")

	for i, ref := range sik[2:] {
		path := fmt.Sprintf("Signature/SignedInfo/Reference[%d]", i+1)
		uri := ref.SelectAttr("URI")
		rk, ok := elements(ref)
		if !ok || uri == nil || len(rk) != 3 || !isDS(rk[0], "Transforms") || !isDS(rk[1], "DigestMethod") || !isDS(rk[2], "DigestValue") {
			return nil, fail(CodeSignatureWrapping, path, "a reference must have a URI, transforms, a digest method and a digest value")
		}
		switch alg := rk[1].SelectAttrValue("Algorithm", ""); alg {
		case AlgSHA256, AlgSHA384, AlgSHA512:
		default:
			return nil, fail(CodeAlgorithmForbidden, path+"/DigestMethod", "digest algorithm %q is not allowed", alg)
		}
		trs, ok := elements(rk[0])
		if !ok {
			return nil, fail(CodeSignatureWrapping, path+"/Transforms", "text in Transforms")
		}
		var algs []string
		for _, t := range trs {
			if !isDS(t, "Transform") || len(t.ChildElements()) != 0 {
				return nil, fail(CodeAlgorithmForbidden, path+"/Transforms", "only parameterless transforms are allowed")
			}
			algs = append(algs, t.SelectAttrValue("Algorithm", ""))
		}
		switch {
		case uri.Value == "" && p.docRef == nil:
			if len(algs) != 2 || algs[0] != AlgEnveloped || algs[1] != AlgExcC14N {
				return nil, fail(CodeAlgorithmForbidden, path+"/Transforms", "the document reference must use the enveloped-signature then the exclusive C14N transforms")
			}
			if len(ref.Attr) != 1 {
				return nil, fail(CodeSignatureWrapping, path, "unexpected attributes on the document reference")
			}
			p.docRef = ref
		case spID != "" && uri.Value == "#"+spID && p.propsRef == nil && ref.SelectAttrValue("Type", "") == TypeSignedProps:
			if len(algs) != 1 || algs[0] != AlgExcC14N {
				return nil, fail(CodeAlgorithmForbidden, path+"/Transforms", "the SignedProperties reference must use the exclusive C14N transform")
			}
			p.propsRef = ref
		default:
			return nil, fail(CodeSignatureWrapping, path, "the references must cover the whole document (URI=\"\") and the SignedProperties of this signature")
		}
	}
	if p.docRef == nil || p.propsRef == nil {
		return nil, fail(CodeSignatureWrapping, "Signature/SignedInfo", "the references must cover the whole document and the SignedProperties")
	}
	return p, nil
}

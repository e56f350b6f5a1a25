// Outside verifier for fsegate's signed care sheets (make test; the Go tests
// run it through fixtures/testenv). For each file given: "VALID <file>" when
// xadesjs verifies its one ds:Signature (signature value with the KeyInfo
// certificate's key, every reference digest, the XAdES signed properties),
// else "REFUSED <file>: <why>". xadesjs checks no trust chain, validity,
// revocation, key usage or algorithm policy: docs/signatures.md lists what it
// checks. Exit 0 unless it cannot run.
"use strict";
const fs = require("node:fs");
const { webcrypto } = require("node:crypto");
const xmldom = require("@xmldom/xmldom");
const xpath = require("xpath");
const xadesjs = require("xadesjs");

xadesjs.setNodeDependencies({
  XMLSerializer: xmldom.XMLSerializer,
  DOMParser: xmldom.DOMParser,
  DOMImplementation: xmldom.DOMImplementation,
  xpath,
});
xadesjs.Application.setEngine("NodeJS", webcrypto);

async function verify(file) {
  const doc = xadesjs.Parse(fs.readFileSync(file, "utf8"));
  const sigs = doc.getElementsByTagNameNS("http://www.w3.org/2000/09/xmldsig#", "Signature");
  if (sigs.length === 0) {
    throw new Error("no ds:Signature");
  }
  const signed = new xadesjs.SignedXml(doc);
  signed.LoadXml(sigs[0]);
  if (!(await signed.Verify())) {
    throw new Error("signature does not verify");
  }
}

(async () => {
  for (const file of process.argv.slice(2)) {
    try {
      await verify(file);
      console.log("VALID " + file);
    } catch (e) {
      console.log("REFUSED " + file + ": " + String(e && e.message ? e.message : e).split("\n")[0]);
    }
  }
})().catch((e) => {
  console.error(e);
  process.exit(2);
});

// Package pdfbomb writes small unsigned PDFs whose embedded files inflate
// to far more than their size (deflated zeros), for the tests of what reads
// PDFs: a few hundred kilobytes that a careless reader turns into hundreds
// of megabytes. Sign them with signature.SignPDF to reach the checks that
// come after the signature.
//
// Contract: Build is deterministic and cheap whatever the inflated size
// (the deflated zeros are assembled from one compressed mebibyte, not
// compressed whole). Tests only.
package pdfbomb

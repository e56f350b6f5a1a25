// Package dashboard is the gateway's operator and pharmacy dashboard, served
// from the admin listener: server-rendered HTML (html/template, embedded),
// a little vanilla JavaScript and CSS, no front-end build step.
//
// Pages: the live pipeline at "/" and "/dashboard/" (received, refused by
// code, queued, in flight, final states, lots per insurer, ARL and returns,
// delivery failures, a throughput chart and end-to-end latency quantiles);
// the lots of an insurer ("/dashboard/insurers/{insurer}"); one sheet's
// state, destinations and history ("/dashboard/sheets/{billing}/{number}",
// no patient data: the status record holds none); a practice's rejects to
// correct and send again ("/dashboard/practices/{billing}/rejects", CSV with
// ?format=csv).
//
// Contract: every figure is read from the Prometheus gatherer that serves
// /metrics (one truth); the throughput series is sampled from it into a
// small ring buffer. Live updates come as Server-Sent Events on
// "/dashboard/events" (a JSON Snapshot every Interval), and
// "/dashboard/snapshot" answers one snapshot for polling. Nothing here
// writes to the queue: notices are never confirmed by looking.
//
// Access (Access): loopback requests without a certificate are operators;
// a request from another host needs a TLS client certificate that
// Access.VerifyClient accepts (the same trust as the intake API), and its
// holder sees only the sheets of the billing numbers the practices
// directory gives them, unless listed in Access.Operators. Errors:
// ErrCertRequired and ErrCertRefused (401), ErrNotLoopback, ErrNoBillings
// and ErrNotYourSheets (403).
package dashboard

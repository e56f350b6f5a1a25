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
// /metrics (one truth; the gateway starts its counters from the store's
// recorded state, queue.Queue.Replay, so a restart shows no zeros); the
// throughput series is sampled from it into a
// small ring buffer. Live updates come as Server-Sent Events on
// "/dashboard/events" (a JSON Snapshot every Interval), and
// "/dashboard/snapshot" answers one snapshot for polling. Nothing here
// writes to the queue: notices are never confirmed by looking.
//
// Access (Access): nobody is let in for where the request comes from. An
// operator (sees everything) carries the gateway's operator token
// (Access.Operator) or is a certificate holder or e-CPS session
// (Access.Session) listed in Access.Operators; any other certificate
// holder or session holder sees only the sheets of the billing numbers the
// practices directory gives them. Anyone else gets the sign-in page (e-CPS,
// the token's form). The zero Access lets no one in. Errors:
// ErrCertRequired, ErrCertRefused, ErrSignInRequired and ErrTokenRefused
// (401), ErrNoBillings, ErrNotYourSheets and ErrOperatorOnly (403); Code
// gives the documented code of those that have one (OPERATOR_REQUIRED,
// OPERATOR_TOKEN_INVALID, OPERATOR_ONLY), shown on the page.
package dashboard

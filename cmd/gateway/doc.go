// Command gateway is fsegate's concentrator: it authenticates senders,
// verifies signed care sheets, queues them in NATS JetStream, batches them
// into lots per insurer, delivers them and routes the acknowledgements home.
//
// This package only wires: flags and the configuration file (serve.go,
// config.go), keys at rest (keys.go), the Prometheus series (metrics.go)
// and the start and stop of the daemon (Main: ParseFlags, Run, Close), plus
// the command-line front-ends of the other subcommands. The rules live in
// packages: the intake policy in gateway/intake, the HTTP servers (intake
// API and admin listener) in gateway/httpapi, the CRL refresh in
// gateway/revocation, the offline verification of 'gateway verify' in
// gateway/verify; queue, insurers, signature and fse below them.
package main

// Command gateway is fsegate's concentrator: it authenticates senders,
// verifies signed care sheets, queues them in NATS JetStream, batches them
// into lots per insurer, delivers them and routes the acknowledgements home.
package main

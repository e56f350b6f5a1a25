// Package campaign runs a fault campaign (docs/reliability.md): three
// nats-server processes in a JetStream cluster (R3), two or three gateways
// (built with the 'chaos' tag: a clock that can jump), the mock insurers
// and a load generator, each NATS server and gateway in its own network
// namespace joined by veth links to bridges in a namespace of the runner;
// faults injected at random from a seed (partitions, kill -9, SIGSTOP
// longer than the ack wait, a full disk, clock jumps), every operation
// written to a history, and at the end the chaos checker on the history
// and on what the cluster holds.
//
// It needs root and ip(8) (iproute2): it fails and says so otherwise. It
// removes its namespaces, processes and filesystems at the end, when
// interrupted, and at the start (what an interrupted run left).
package campaign

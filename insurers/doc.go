// Package insurers is the insurer directory (fixtures/insurers.yaml): who
// each insurer (AMO caisse, AMC) is, which régime/caisse/centre or AMC
// numbers it serves, its lot limits, deadlines, retry budget and NATS user,
// and the routing of a care sheet's routing key to its destinations.
package insurers

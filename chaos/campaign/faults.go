package campaign

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/fsegate/fsegate/chaos"
)

// Fault kinds, in the order of the results table.
const (
	IsolateNode  = "isolate-node"  // one NATS node cut from everyone
	CutGateway   = "cut-gateway"   // a gateway cut from the cluster, clients still reach it
	Split        = "split"         // a node and a gateway on the minority side
	KillNode     = "kill-node"     // kill -9 of a NATS node, restarted
	KillGateway  = "kill-gateway"  // kill -9 of a gateway, restarted
	KillInsurer  = "kill-insurer"  // kill -9 of a mock insurer, restarted
	PauseNode    = "pause-node"    // SIGSTOP longer than the ack wait, then SIGCONT
	PauseGateway = "pause-gateway" // same, a gateway
	DiskFull     = "disk-full"     // a node's filesystem filled, then freed
	ClockJump    = "clock-jump"    // a gateway's clock jumps forwards or backwards, then back
)

// FaultKinds lists every kind of fault.
var FaultKinds = []string{IsolateNode, CutGateway, Split, KillNode, KillGateway, KillInsurer, PauseNode, PauseGateway, DiskFull, ClockJump}

// ackWait is the consumers' ack wait (queue.TopologyConfig.AckWait's
// default): a pause lasts longer.
const ackWait = 30 * time.Second

// holdRange is how long a fault of kind lasts, capped by MaxHold (but for
// pauses, which must outlast the ack wait).
func (c *campaign) holdRange(kind string) (lo, hi time.Duration) {
	lo, hi = holdRange(kind)
	if m := c.cfg.MaxHold; m > 0 && kind != PauseNode && kind != PauseGateway && hi > m {
		hi = m
		lo = min(lo, m)
	}
	return lo, hi
}

// holdRange is how long a fault of each kind lasts.
func holdRange(kind string) (lo, hi time.Duration) {
	switch kind {
	case PauseNode, PauseGateway:
		return ackWait + 5*time.Second, ackWait + 15*time.Second
	case KillNode, KillGateway, KillInsurer:
		return time.Second, 8 * time.Second
	case ClockJump:
		return 10 * time.Second, 30 * time.Second
	default:
		return 5 * time.Second, 20 * time.Second
	}
}

func (c *campaign) dur(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(c.rnd.Int64N(int64(hi-lo)+1))
}

// faults injects faults one after the other until end: every kind once
// in a seeded order, then kinds at random; each is logged (fault, heal)
// with its time in the history.
func (c *campaign) faults(ctx context.Context, end time.Time) {
	kinds := c.cfg.Faults
	if len(kinds) == 0 {
		kinds = FaultKinds
	}
	order := append([]string(nil), kinds...)
	c.rnd.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	// A few quiet seconds first: the load settles.
	if !sleepCtx(ctx, c.dur(3*time.Second, 6*time.Second)) {
		return
	}
	for n := 0; ; n++ {
		var kind string
		if n < len(order) {
			kind = order[n]
		} else {
			kind = kinds[c.rnd.IntN(len(kinds))]
		}
		_, hi := c.holdRange(kind)
		if time.Until(end) < hi+2*time.Second {
			// Not enough time left for this one: a shorter one, if any.
			found := false
			for _, k := range kinds {
				if _, h := c.holdRange(k); time.Until(end) >= h+2*time.Second {
					kind, found = k, true
					break
				}
			}
			if !found {
				sleepCtx(ctx, time.Until(end))
				return
			}
		}
		if err := c.fault(ctx, kind); err != nil && !errors.Is(err, errSkip) {
			c.logf("fault %s: %v", kind, err)
		}
		if ctx.Err() != nil {
			return
		}
		if !sleepCtx(ctx, c.dur(2*time.Second, 6*time.Second)) {
			return
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	select {
	case <-time.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}

func (c *campaign) record(kind, fault, target, detail string) {
	c.rec.Add(chaos.Op{T: time.Now(), Kind: kind, Fault: fault, Proc: target, Detail: detail})
	c.logf("%-5s %-13s %-8s %s", kind, fault, target, detail)
}

// fault injects one fault of kind, holds it, heals it.
func (c *campaign) fault(ctx context.Context, kind string) error {
	lo, hi := c.holdRange(kind)
	hold := c.dur(lo, hi)
	node := 1 + c.rnd.IntN(c.cfg.Nodes)
	gw := 1 + c.rnd.IntN(c.cfg.Gateways)
	switch kind {
	case IsolateNode:
		l := nodeLink(node)
		if err := hubIP("link", "set", l, "down"); err != nil {
			return err
		}
		c.record(chaos.OpFault, kind, fmt.Sprintf("n%d", node), "link "+l+" down for "+hold.String())
		sleepCtx(ctx, hold)
		err := hubIP("link", "set", l, "up")
		c.record(chaos.OpHeal, kind, fmt.Sprintf("n%d", node), "link "+l+" up")
		return err
	case CutGateway:
		l := gwLink(gw)
		if err := hubIP("link", "set", l, "down"); err != nil {
			return err
		}
		c.record(chaos.OpFault, kind, fmt.Sprintf("g%d", gw), "cluster link "+l+" down for "+hold.String()+", clients still reach it")
		sleepCtx(ctx, hold)
		err := hubIP("link", "set", l, "up")
		c.record(chaos.OpHeal, kind, fmt.Sprintf("g%d", gw), "link "+l+" up")
		return err
	case Split:
		target := fmt.Sprintf("n%d+g%d", node, gw)
		for _, l := range []string{nodeLink(node), gwLink(gw)} {
			if err := hubIP("link", "set", l, "master", "brs"); err != nil {
				return err
			}
		}
		c.record(chaos.OpFault, kind, target, "minority {"+target+"} on brs, the rest on brc, for "+hold.String())
		sleepCtx(ctx, hold)
		var err error
		for _, l := range []string{nodeLink(node), gwLink(gw)} {
			err = errors.Join(err, hubIP("link", "set", l, "master", "brc"))
		}
		c.record(chaos.OpHeal, kind, target, "one network again")
		return err
	case KillNode, KillGateway, KillInsurer:
		var p *proc
		switch kind {
		case KillNode:
			p = c.nodes[node-1]
		case KillGateway:
			p = c.gateways[gw-1]
		default:
			p = c.insurers[c.rnd.IntN(len(c.insurers))]
		}
		p.kill9()
		c.record(chaos.OpFault, kind, p.name, "kill -9, down for "+hold.String())
		sleepCtx(ctx, hold)
		err := p.start()
		c.record(chaos.OpHeal, kind, p.name, "restarted")
		return err
	case PauseNode, PauseGateway:
		p := c.nodes[node-1]
		if kind == PauseGateway {
			p = c.gateways[gw-1]
		}
		if err := p.signal(syscall.SIGSTOP); err != nil {
			return err
		}
		c.record(chaos.OpFault, kind, p.name, "SIGSTOP for "+hold.String()+" (ack wait "+ackWait.String()+")")
		sleepCtx(ctx, hold)
		err := p.signal(syscall.SIGCONT)
		c.record(chaos.OpHeal, kind, p.name, "SIGCONT")
		return err
	case DiskFull:
		n, err := fill(storeDir(node))
		if err != nil {
			return err
		}
		c.record(chaos.OpFault, kind, fmt.Sprintf("n%d", node), fmt.Sprintf("store filesystem filled (%d MB more) for %s", n>>20, hold))
		sleepCtx(ctx, hold)
		err = os.Remove(filepath.Join(storeDir(node), fillName))
		detail := "freed"
		if !c.jetStreamBack(ctx, node) {
			// What an operator does: JetStream stays off on a node whose
			// disk was full until the server restarts.
			c.nodes[node-1].stop(10 * time.Second)
			err = errors.Join(err, c.nodes[node-1].start())
			detail = "freed; JetStream stayed off: node restarted"
		}
		c.record(chaos.OpHeal, kind, fmt.Sprintf("n%d", node), detail)
		return err
	case ClockJump:
		jump := c.dur(30*time.Second, 4*time.Minute)
		if c.rnd.IntN(2) == 0 {
			jump = -jump
		}
		if err := c.setClock(gw, jump); err != nil {
			return err
		}
		c.record(chaos.OpFault, kind, fmt.Sprintf("g%d", gw), fmt.Sprintf("clock %+v for %s", jump, hold))
		sleepCtx(ctx, hold)
		err := c.setClock(gw, 0)
		c.record(chaos.OpHeal, kind, fmt.Sprintf("g%d", gw), fmt.Sprintf("clock back by %+v", -jump))
		return err
	}
	return fmt.Errorf("unknown fault %q", kind)
}

func (c *campaign) setClock(gw int, off time.Duration) error {
	c.mu.Lock()
	c.clocks[gw] = off
	c.mu.Unlock()
	tmp := c.gwClock(gw) + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.FormatInt(int64(off), 10)+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, c.gwClock(gw))
}

const fillName = "chaos-fill"

// fill writes zeros into dir until its filesystem is full.
func fill(dir string) (int64, error) {
	f, err := os.Create(filepath.Join(dir, fillName))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	var n int64
	for {
		k, err := f.Write(buf)
		n += int64(k)
		if errors.Is(err, syscall.ENOSPC) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// jetStreamBack waits for node i's JetStream to answer again.
func (c *campaign) jetStreamBack(ctx context.Context, i int) bool {
	return c.waitHTTP(ctx, fmt.Sprintf("http://%s:8222/healthz?js-enabled-only=true", nodeIP(i)), 20*time.Second) == nil
}

// healAll ends every fault: links up and on one bridge, processes running
// and not paused, clocks right, filesystems freed.
func (c *campaign) healAll() {
	for i := 1; i <= c.cfg.Nodes; i++ {
		_ = hubIP("link", "set", nodeLink(i), "master", "brc", "up")
		_ = os.Remove(filepath.Join(storeDir(i), fillName))
	}
	for j := 1; j <= c.cfg.Gateways; j++ {
		_ = hubIP("link", "set", gwLink(j), "master", "brc", "up")
		_ = c.setClock(j, 0)
	}
	for _, group := range [][]*proc{c.nodes, c.gateways, c.insurers} {
		for _, p := range group {
			_ = p.signal(syscall.SIGCONT)
			if !p.running() {
				_ = p.start()
			}
		}
	}
	c.record(chaos.OpHeal, "all", "", "every link up, every process running, clocks right, disks freed")
}

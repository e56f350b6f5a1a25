package campaign

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The network, made with ip netns and veth links, nothing outside the
// machine:
//
//	fsechaos-hub   bridges brc (cluster, 10.77.1.0/24), brs (the other side
//	               of a split, same subnet) and brx (clients, 10.77.2.0/24);
//	               the runner, the mock insurers and the load generator run
//	               here (10.77.1.1 and 10.77.2.1)
//	fsechaos-nI    NATS node I: eth0 10.77.1.1I ↔ nIc on brc
//	fsechaos-gJ    gateway J: eth0 10.77.1.2J ↔ gJc on brc (its way to the
//	               cluster), eth1 10.77.2.2J ↔ gJx on brx (where clients reach it)
//
// A partition takes a hub-side link down (isolate a node, cut a gateway
// from the cluster while clients still reach it) or moves links to brs (a
// majority/minority split); healing brings them back.
const (
	nsPrefix = "fsechaos-"
	hubNS    = nsPrefix + "hub"
	// mountRoot holds each node's own small filesystem (its store).
	mountRoot = "/run/fsechaos"
)

func nodeNS(i int) string    { return fmt.Sprintf("%sn%d", nsPrefix, i) }
func gatewayNS(j int) string { return fmt.Sprintf("%sg%d", nsPrefix, j) }
func nodeIP(i int) string    { return fmt.Sprintf("10.77.1.1%d", i) }
func gwClusterIP(j int) string {
	return fmt.Sprintf("10.77.1.2%d", j)
}
func gwClientIP(j int) string { return fmt.Sprintf("10.77.2.2%d", j) }
func nodeLink(i int) string   { return fmt.Sprintf("n%dc", i) }
func gwLink(j int) string     { return fmt.Sprintf("g%dc", j) }

// run runs a command and returns its error with its output.
func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// ip runs ip(8).
func ip(args ...string) error { return run("ip", args...) }

// hubIP runs ip(8) in the hub namespace.
func hubIP(args ...string) error { return ip(append([]string{"-n", hubNS}, args...)...) }

// Preflight fails loudly when the machine refuses what the campaign needs.
func Preflight() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("the campaign needs root (network namespaces, tmpfs mounts)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("ip(8) not found: install iproute2 (make deps): %w", err)
	}
	return nil
}

// lockPath is held (flock) by the campaign that owns the namespaces: a
// second campaign, or a cleanup, while one runs would tear it down.
const lockPath = "/run/fsechaos.lock"

// Lock takes the campaign lock, or says who holds it. The kernel drops it
// when its holder dies, so an interrupted campaign leaves none.
func Lock() (unlock func(), err error) {
	f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(lockPath)
		f.Close()
		return nil, fmt.Errorf("another campaign is running (pid %s, %s): wait for it to end", strings.TrimSpace(string(b)), lockPath)
	}
	f.Truncate(0)
	fmt.Fprintf(f, "%d\n", os.Getpid())
	return func() { f.Close() }, nil
}

// Cleanup removes what a campaign (this one, or an interrupted one) left:
// the processes in its namespaces, the namespaces, the filesystems.
func Cleanup() error {
	var errs []string
	names, err := namespaces()
	if err != nil {
		errs = append(errs, err.Error())
	}
	for _, ns := range names {
		for _, pid := range nsPids(ns) {
			_ = syscall.Kill(pid, syscall.SIGCONT)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if len(names) > 0 {
		time.Sleep(200 * time.Millisecond)
	}
	for _, ns := range names {
		if err := ip("netns", "delete", ns); err != nil {
			errs = append(errs, err.Error())
		}
	}
	for _, m := range ourMounts() {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil {
			errs = append(errs, fmt.Sprintf("umount %s: %v", m, err))
		}
	}
	_ = os.RemoveAll(mountRoot)
	if len(errs) > 0 {
		return fmt.Errorf("cleanup: %s", strings.Join(errs, "; "))
	}
	return nil
}

func namespaces() ([]string, error) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return nil, fmt.Errorf("ip netns list: %w", err)
	}
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 && strings.HasPrefix(f[0], nsPrefix) {
			names = append(names, f[0])
		}
	}
	return names, nil
}

func nsPids(ns string) []int {
	out, _ := exec.Command("ip", "netns", "pids", ns).Output()
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if p, err := strconv.Atoi(f); err == nil && p != os.Getpid() {
			pids = append(pids, p)
		}
	}
	return pids
}

// ourMounts lists the mounts under mountRoot, deepest first.
func ourMounts() []string {
	b, _ := os.ReadFile("/proc/self/mounts")
	var ms []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && strings.HasPrefix(f[1], mountRoot+"/") {
			ms = append(ms, f[1])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(ms)))
	return ms
}

// Setup makes the namespaces, bridges and links of nodes NATS nodes and
// gateways gateways, and a tmpfs of storeMB megabytes for each node's store.
func Setup(nodes, gateways, storeMB int) error {
	steps := [][]string{
		{"netns", "add", hubNS},
		{"-n", hubNS, "link", "set", "lo", "up"},
	}
	for _, br := range []string{"brc", "brs", "brx"} {
		steps = append(steps, []string{"-n", hubNS, "link", "add", br, "type", "bridge"}, []string{"-n", hubNS, "link", "set", br, "up"})
	}
	steps = append(steps,
		[]string{"-n", hubNS, "addr", "add", "10.77.1.1/24", "dev", "brc"},
		[]string{"-n", hubNS, "addr", "add", "10.77.2.1/24", "dev", "brx"})
	link := func(ns, hubSide, inside, bridge, addr string) {
		steps = append(steps,
			[]string{"-n", hubNS, "link", "add", hubSide, "type", "veth", "peer", "name", inside, "netns", ns},
			[]string{"-n", hubNS, "link", "set", hubSide, "master", bridge, "up"},
			[]string{"-n", ns, "addr", "add", addr + "/24", "dev", inside},
			[]string{"-n", ns, "link", "set", inside, "up"})
	}
	for i := 1; i <= nodes; i++ {
		ns := nodeNS(i)
		steps = append(steps, []string{"netns", "add", ns}, []string{"-n", ns, "link", "set", "lo", "up"})
		link(ns, nodeLink(i), "eth0", "brc", nodeIP(i))
	}
	for j := 1; j <= gateways; j++ {
		ns := gatewayNS(j)
		steps = append(steps, []string{"netns", "add", ns}, []string{"-n", ns, "link", "set", "lo", "up"})
		link(ns, gwLink(j), "eth0", "brc", gwClusterIP(j))
		link(ns, fmt.Sprintf("g%dx", j), "eth1", "brx", gwClientIP(j))
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			return fmt.Errorf("network setup: %w", err)
		}
	}
	for i := 1; i <= nodes; i++ {
		dir := storeDir(i)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%dm,mode=0700", storeMB)); err != nil {
			return fmt.Errorf("mount a tmpfs of %d MB on %s for node %d's store (the disk-full fault needs a filesystem of its own): %w", storeMB, dir, i, err)
		}
	}
	return nil
}

func storeDir(i int) string { return filepath.Join(mountRoot, fmt.Sprintf("n%d", i)) }

package emulator

import (
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/azlens/azlens/internal/childproc/proctest"
)

// useHolders makes the test's environments take the non-root path (a user-namespace holder per
// environment, processes entering it with nsenter) even when the test runs as root.
func useHolders(t *testing.T) {
	t.Helper()
	if err := usernsUnavailable(); err != nil {
		t.Fatalf("user namespaces are not available on this host: %v", err)
	}
	was := nsViaHolder.Swap(true)
	t.Cleanup(func() { nsViaHolder.Store(was) })
}

func nsLink(t *testing.T, pid int, kind string) string {
	t.Helper()
	l, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/" + kind)
	if err != nil {
		t.Fatalf("namespace of pid %d: %v", pid, err)
	}
	return l
}

// The three-zone third-party test through holders: each environment's processes run in the user
// and network namespaces of its own holder, none in this process's.
func TestThirdPartyExtensionsUsernsThreeZones(t *testing.T) {
	useHolders(t)
	thirdPartyThreeZones(t, func(envs []*Sandbox) {
		selfUser, selfNet := nsLink(t, os.Getpid(), "user"), nsLink(t, os.Getpid(), "net")
		var holderNets []string
		for _, s := range envs {
			if s.ns == nil || s.ns.holder == nil {
				t.Fatalf("%s: not isolated by a holder", s.AZ())
			}
			pid := s.ns.holder.cmd.Process.Pid
			if u := nsLink(t, pid, "user"); u == selfUser {
				t.Errorf("%s: holder in this process's user namespace %s", s.AZ(), u)
			}
			holderNets = append(holderNets, nsLink(t, pid, "net"))
		}
		procs, err := proctest.Descendants(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		var memberNets []string
		for _, p := range procs {
			if p.Name != "samples-telemet" && p.Name != "otel-collector" && p.Name != "bootstrap" {
				continue
			}
			n := nsLink(t, p.PID, "net")
			if n == selfNet || !slices.Contains(holderNets, n) {
				t.Errorf("%s runs in network namespace %s, not in a holder's %v", p, n, holderNets)
			}
			memberNets = append(memberNets, n)
		}
		n := len(memberNets)
		slices.Sort(memberNets)
		if got := slices.Compact(memberNets); len(got) != 3 || n != 9 {
			t.Errorf("9 processes in 3 network namespaces wanted, got %d in %v", n, got)
		}
	})
}

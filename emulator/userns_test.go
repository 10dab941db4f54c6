package emulator

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/azlens/azlens/internal/childproc/proctest"
	"github.com/azlens/azlens/internal/freeport"
	"github.com/azlens/azlens/internal/testbin"
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

// hostAllowsUserns fails the test, naming the sysctl, where the kernel refuses unprivileged user
// namespaces: the test is about that path and must not pass without taking it.
func hostAllowsUserns(t *testing.T) {
	t.Helper()
	for _, c := range []struct {
		path, want string
		ok         func(string) bool
	}{
		{"/proc/sys/user/max_user_namespaces", "> 0", func(v string) bool { n, _ := strconv.Atoi(v); return n > 0 }},
		{"/proc/sys/kernel/unprivileged_userns_clone", "= 1", func(v string) bool { return v == "1" }},
		{"/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "= 0", func(v string) bool { return v == "0" }},
	} {
		b, err := os.ReadFile(c.path)
		if errors.Is(err, fs.ErrNotExist) && c.path != "/proc/sys/user/max_user_namespaces" {
			continue // that knob does not exist on this kernel
		}
		if err != nil {
			t.Fatalf("read %s: %v", c.path, err)
		}
		if v := strings.TrimSpace(string(b)); !c.ok(v) {
			name := strings.ReplaceAll(strings.TrimPrefix(c.path, "/proc/sys/"), "/", ".")
			t.Fatalf("this host refuses unprivileged user namespaces: sysctl %s is %s, needs %s", name, v, c.want)
		}
	}
}

// copyExecutable copies src to dst, mode 0755: the test's binaries live in a folder only root
// may enter.
func copyExecutable(t *testing.T, src, dst string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

// unprivileged is who `azlens emulate` runs as: nobody when the test is root (as in CI), else the
// test's own user.
const unprivileged = 65534

// TestUnprivilegedEmulateIsolatedThreeZones is `azlens emulate --network isolated` run by a user
// without privileges, as a real process: three zones, the function plus both third-party
// look-alike extensions (fixed ports 4323, 4325, 53612, 4317/4318 in every environment). Every
// invocation answers 200, every report reaches the extension of the environment that ran it,
// Ctrl-C ends it cleanly and nothing it started survives.
func TestUnprivilegedEmulateIsolatedThreeZones(t *testing.T) {
	hostAllowsUserns(t)
	dir, err := os.MkdirTemp("", "azlens-userns-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	thirdPartyExtension(t, "unused") // builds the binary
	azlens := filepath.Join(dir, "azlens")
	if err := testbin.Build("-o", azlens, "github.com/azlens/azlens/cmd/azlens"); err != nil {
		t.Fatal(err)
	}
	fn := copyExecutable(t, functionPath, filepath.Join(dir, "bootstrap"))
	samples := copyExecutable(t, thirdPartyBin, filepath.Join(dir, "samples-telemetry"))
	otel := copyExecutable(t, thirdPartyBin, filepath.Join(dir, "otel-collector"))
	rec, tmp := filepath.Join(dir, "rec"), filepath.Join(dir, "tmp")
	for _, d := range []string{rec, tmp} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	asRoot := os.Getuid() == 0
	wantUID := os.Getuid()
	if asRoot {
		wantUID = unprivileged
		for _, p := range []string{dir, rec, tmp} {
			if err := os.Chmod(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range []string{rec, tmp} {
			if err := os.Chown(p, unprivileged, unprivileged); err != nil {
				t.Fatal(err)
			}
		}
	}

	cmd := exec.Command(azlens, "emulate", "--function", fn, "--extension", samples, "--extension", otel,
		"--azs", "use1-az1,use1-az2,use1-az3", "--listen", "127.0.0.1:0", "--network", "isolated",
		"--env", "THIRDPARTY_RECORD="+rec, "--quiet")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + tmp}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if asRoot {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: unprivileged, Gid: unprivileged}
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var addr string
	var apis []string
	for l := range lines {
		if a, ok := strings.CutPrefix(l, "Invoke API listening on http://"); ok {
			addr, _, _ = strings.Cut(a, " ")
		}
		if _, api, ok := strings.Cut(l, ": AWS_LAMBDA_RUNTIME_API="); ok {
			apis = append(apis, api)
			if len(apis) == 3 {
				break
			}
		}
	}
	if addr == "" || len(apis) != 3 {
		t.Fatalf("azlens emulate did not start (Invoke API %q, environments %v):\n%s", addr, apis, stderr.String())
	}
	for _, a := range apis {
		if a != "127.0.0.1:9001" {
			t.Errorf("AWS_LAMBDA_RUNTIME_API %s, want Lambda's 127.0.0.1:9001 in every environment", a)
		}
	}

	procs, err := proctest.Descendants(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	w := proctest.Watch(procs)
	defer w.Close()
	selfNet, selfUser := nsLink(t, os.Getpid(), "net"), nsLink(t, os.Getpid(), "user")
	count := map[string]int{}
	nets := map[string]int{}
	for _, p := range procs {
		if p.Name != "bootstrap" && p.Name != "samples-telemet" && p.Name != "otel-collector" {
			continue
		}
		count[p.Name]++
		n, u := nsLink(t, p.PID, "net"), nsLink(t, p.PID, "user")
		if n == selfNet || u == selfUser {
			t.Errorf("%s runs in the host's namespaces (net %s, user %s)", p, n, u)
		}
		nets[n]++
		if uid := procUID(t, p.PID); uid != wantUID {
			t.Errorf("%s runs as uid %d on the host, want %d", p, uid, wantUID)
		}
	}
	if count["bootstrap"] != 3 || count["samples-telemet"] != 3 || count["otel-collector"] != 3 || len(nets) != 3 {
		t.Fatalf("processes %v in %d network namespaces, want the function and both extensions in each of 3:\n%v", count, len(nets), procs)
	}

	const n = 45
	for i := range n {
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/2015-03-31/functions/bootstrap/invocations",
			strings.NewReader(fmt.Sprintf(`{"mode":"echo","message":"m%d"}`, i)))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Amz-Function-Error") != "" || !strings.Contains(string(body), fmt.Sprintf(`"m%d"`, i)) {
			t.Fatalf("invoke %d: %d %s %s\n%s", i, resp.StatusCode, resp.Header.Get("X-Amz-Function-Error"), body, stderr.String())
		}
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	var out []string
	for l := range lines {
		out = append(out, l)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("azlens emulate after SIGINT: %v, want exit 0\n%s", err, stderr.String())
	}
	if survivors := w.Wait(60 * time.Second); len(survivors) > 0 {
		for _, p := range survivors {
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
		}
		t.Errorf("still running after azlens emulate ended: %v", survivors)
	}
	sumLine := regexp.MustCompile(`^  environment (\S+) \((\S+)\): (\d+) invocations, 0 resets$`)
	total, envs := 0, 0
	for _, l := range out {
		if m := sumLine.FindStringSubmatch(l); m != nil {
			k, _ := strconv.Atoi(m[3])
			if k == 0 {
				t.Errorf("environment %s ran no invocation (the router spreads 45 over 3 zones)", m[1])
			}
			total += k
			envs++
		}
	}
	if envs != 3 || total != n {
		t.Errorf("summary: %d environments without resets and %d invocations, want 3 and %d:\n%s", envs, total, n, strings.Join(out, "\n"))
	}

	// Every extension process got reports for exactly the invocations its environment ran, on
	// each of its listeners; together they ran each invocation once.
	seen := readThirdParty(t, rec)
	byName := map[string]int{}
	var all []string
	for _, s := range seen {
		name := filepath.Base(s.exe)
		byName[name]++
		want := []string{"samples"}
		if name == "otel-collector" {
			want = []string{"lifecycle", "receiver"}
			all = append(all, s.invokes...)
		}
		checkReports(t, name, []extSeen{s}, s.invokes, want...)
	}
	slices.Sort(all)
	if byName["samples-telemetry"] != 3 || byName["otel-collector"] != 3 || len(all) != n || len(slices.Compact(all)) != n {
		t.Errorf("extension processes %v saw %d invocations, want 3 of each seeing %d distinct ones in all", byName, len(all), n)
	}
}

func procUID(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "Uid:" {
			uid, _ := strconv.Atoi(f[1])
			return uid
		}
	}
	t.Fatalf("no Uid in /proc/%d/status", pid)
	return -1
}

// A holder's sockets are in its own network namespace, its errors reach the caller, a caller that
// gives up gets its context's error, and a closed holder refuses further requests.
func TestHolderSockets(t *testing.T) {
	useHolders(t)
	h, err := startHolder(namespaceMounts{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	// A port free on this process's loopback, so the check below cannot meet someone else's.
	addr := "127.0.0.1:" + itoa(freeport.Ports(t, 1)[0])
	ln, err := h.listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, err = c.Write([]byte("inside"))
			c.Close()
		}
		accepted <- err
	}()
	c, err := h.dial(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	c.Close()
	if err != nil || string(b) != "inside" {
		t.Errorf("read %q, %v through the holder's loopback", b, err)
	}
	if err := <-accepted; err != nil {
		t.Fatal(err)
	}
	// The same port on this process's loopback is another socket altogether.
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Error("the holder's listener answers on the host's loopback")
	}
	if _, err := h.listen(addr); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("second listen on the port: %v, want address already in use", err)
	}
	if _, err := h.dial(context.Background(), "tcp", "127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("dial to a closed port: %v, want connection refused", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.dial(ctx, "tcp", addr); !errors.Is(err, context.Canceled) {
		t.Errorf("dial with a cancelled context: %v", err)
	}
	h.close()
	if _, err := h.listen("127.0.0.1:0"); err == nil {
		t.Error("listen through a closed holder succeeded")
	}
}

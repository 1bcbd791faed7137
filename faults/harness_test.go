//go:build faults

package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the quietpager binary built once for the whole run, so that a
// replica is a real process that kill -9 really kills.
var binary string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "quietpager-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "quietpager")
	build := exec.Command("go", "build", "-o", binary, "../cmd/quietpager")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build quietpager:", err)
		return 1
	}
	return m.Run()
}

// onCI reports whether missing tools fail the suite instead of skipping.
func onCI() bool { return os.Getenv("CI") == "true" }

// need finds a tool on PATH, or fails (on CI) or skips saying how to get it.
func need(t *testing.T, name, install string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		msg := name + " not on PATH; install with " + install
		if onCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitFor polls cond every 100 ms until it holds; after timeout it fails
// the test with what cond last said.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last: %s", timeout, what, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// logBuffer collects a process's output from its two pipes.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// proc is a child process: killed when the test ends, its output shown
// when the test failed.
type proc struct {
	name   string
	cmd    *exec.Cmd
	logs   *logBuffer
	exited chan struct{}
}

func startProc(t *testing.T, name, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(bin, args...), logs: &logBuffer{}, exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("%s output (last 4 KiB):\n%s", name, tail(p.logs.String(), 4096))
		}
	})
	return p
}

// kill sends SIGKILL: no shutdown hook runs, in-flight requests and
// transactions are cut off where they are.
func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

func (p *proc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// quietpager runs one CLI command of the built binary and returns its
// standard output.
func quietpager(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("quietpager %s: %v\n%s%s", args[0], err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// createToken returns the secret of a new API and webhook token; the CLI
// prints it alone on its last line.
func createToken(t *testing.T, dsn string) string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(quietpager(t, "token", "create", "--name", "faults", "--db", dsn)), "\n")
	return lines[len(lines)-1]
}

// apply makes the on-call configuration yaml the database's.
func apply(t *testing.T, dsn, yaml string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "oncall.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	quietpager(t, "apply", "-f", file, "--db", dsn)
}

// replica is one `quietpager serve` process.
type replica struct {
	*proc
	URL string
}

func startReplica(t *testing.T, name, dsn string, extra ...string) *replica {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	args := append([]string{"serve", "--db", dsn, "--listen", addr, "--log-level", "warn"}, extra...)
	r := &replica{proc: startProc(t, name, binary, args...), URL: "http://" + addr}
	waitFor(t, 30*time.Second, name+" to answer /readyz with 200", func() (bool, string) {
		if !r.running() {
			t.Fatalf("%s exited:\n%s", name, r.logs.String())
		}
		code, body := r.get("/readyz", "")
		return code == http.StatusOK, fmt.Sprintf("%d %s", code, body)
	})
	return r
}

// get GETs a path; status 0 means no answer.
func (r *replica) get(path, token string) (int, string) {
	req, err := http.NewRequest(http.MethodGet, r.URL+path, nil)
	if err != nil {
		return 0, err.Error()
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// getJSON GETs an API path and decodes a 200 answer into out.
func (r *replica) getJSON(path, token string, out any) error {
	code, body := r.get(path, token)
	if code != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", path, code, body)
	}
	return json.Unmarshal([]byte(body), out)
}

// post POSTs a JSON body with the token.
func (r *replica) post(path, token string, body []byte) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, r.URL+path, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	client := http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// apiAlert and apiIncident are what quietpager's JSON API returns.
type apiAlert struct {
	Fingerprint string            `json:"fingerprint"`
	Labels      map[string]string `json:"labels"`
	Episodes    int               `json:"episodes"`
}

type apiIncident struct {
	ID       int64     `json:"id"`
	State    string    `json:"state"`
	Title    string    `json:"title"`
	GroupKey string    `json:"group_key"`
	Alerts   int       `json:"alerts"`
	Openings int       `json:"openings"`
	OpenedAt time.Time `json:"opened_at"`
}

func (r *replica) alerts(token string) ([]apiAlert, error) {
	var out struct {
		Alerts []apiAlert `json:"alerts"`
	}
	err := r.getJSON("/api/v1/alerts?limit=10000", token, &out)
	return out.Alerts, err
}

func (r *replica) incidents(token string) ([]apiIncident, error) {
	var out struct {
		Incidents []apiIncident `json:"incidents"`
	}
	err := r.getJSON("/api/v1/incidents?limit=10000", token, &out)
	return out.Incidents, err
}

// metric returns the value of one sample line of /metrics, such as
// `quietpager_breaker_state{destination="smtp"}`; false when absent.
func (r *replica) metric(sample string) (string, bool) {
	_, body := r.get("/metrics", "")
	for line := range strings.SplitSeq(body, "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			return v, true
		}
	}
	return "", false
}

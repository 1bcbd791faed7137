// Package proctest holds what the test packages that start real servers
// (mailpit, Alertmanager) share.
package proctest

import (
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Buffer collects a process's output from its two writers.
type Buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Start starts cmd, waits up to 15 s until ready reports true, and kills
// the process when the test ends (logging its output if the test failed).
// A process that exits or is not ready in time fails the test. The kill
// function it returns ends the process earlier, for a test in which it
// dies; calling it again does nothing.
func Start(t testing.TB, name string, cmd *exec.Cmd, ready func() bool) (kill func()) {
	t.Helper()
	out := &Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	var once sync.Once
	kill = func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			<-exited
		})
	}
	t.Cleanup(func() {
		kill()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for !ready() {
		select {
		case <-exited:
			t.Fatalf("%s exited:\n%s", name, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not ready within 15s:\n%s", name, out.String())
		}
	}
	return kill
}

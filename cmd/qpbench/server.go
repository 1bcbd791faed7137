package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/quietpager/quietpager/ingest"
)

// quietpager is the server under test, running as its own process.
type quietpager struct {
	cmd    *exec.Cmd
	base   string // http://ADDR
	token  string
	stderr string // path of its log
	exited chan error

	stopOnce sync.Once
	stopErr  error
}

// createToken makes the webhook token every replica on dsn accepts.
func createToken(bin, dsn string) (string, error) {
	out, err := exec.Command(bin, "token", "create", "--name", "bench", "--db", dsn).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("quietpager token create: %v: %s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(lines[len(lines)-1]), nil
}

// startQuietpager starts "quietpager serve" on dsn with default settings,
// listening on a free loopback port.
func startQuietpager(bin, dsn, token, logPath string) (*quietpager, error) {
	q := &quietpager{token: token, stderr: logPath, exited: make(chan error, 1)}

	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	q.cmd = exec.Command(bin, "serve", "--db", dsn, "--listen", "127.0.0.1:0")
	q.cmd.Stderr = logFile
	stdout, err := q.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := q.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { q.exited <- q.cmd.Wait(); logFile.Close() }()

	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "quietpager listening on "); ok {
				addr <- a
			}
		}
	}()
	select {
	case q.base = <-addr:
	case err := <-q.exited:
		return nil, fmt.Errorf("quietpager serve exited: %v (log: %s)", err, logPath)
	case <-time.After(30 * time.Second):
		q.stop()
		return nil, fmt.Errorf("quietpager serve did not report its address (log: %s)", logPath)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(q.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return q, nil
			}
		}
		if time.Now().After(deadline) {
			q.stop()
			return nil, fmt.Errorf("quietpager not ready after 30 s (log: %s)", logPath)
		}
	}
}

// fleet is the replicas under test, sharing one database.
type fleet []*quietpager

func startFleet(bin, dsn, logPrefix string, replicas int) (fleet, error) {
	token, err := createToken(bin, dsn)
	if err != nil {
		return nil, err
	}
	var f fleet
	for i := range replicas {
		q, err := startQuietpager(bin, dsn, token, fmt.Sprintf("%s-%d.log", logPrefix, i+1))
		if err != nil {
			f.stop()
			return nil, err
		}
		f = append(f, q)
	}
	return f, nil
}

func (f fleet) target() target {
	t := target{token: f[0].token}
	for _, q := range f {
		t.urls = append(t.urls, q.base+"/hooks/alertmanager")
	}
	return t
}

func (f fleet) pids() []int {
	var pids []int
	for _, q := range f {
		pids = append(pids, q.cmd.Process.Pid)
	}
	return pids
}

// stop stops every replica and returns the first error.
func (f fleet) stop() error {
	var first error
	for _, q := range f {
		if err := q.stop(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (f fleet) stats() serverStats {
	var s serverStats
	for _, q := range f {
		r := q.stats()
		s.batchSum, s.batchCount = s.batchSum+r.batchSum, s.batchCount+r.batchCount
		s.commitSum, s.commitCount = s.commitSum+r.commitSum, s.commitCount+r.commitCount
	}
	return s
}

// peakRSS is the replicas' peak resident memory so far, summed, in MiB.
func (f fleet) peakRSS() float64 {
	var kib float64
	for _, q := range f {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(q.cmd.Process.Pid), "status"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				n, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
				kib += n
			}
		}
	}
	return kib / 1024
}

// stop sends SIGTERM and waits for a clean exit; stopping twice is fine.
func (q *quietpager) stop() error {
	q.stopOnce.Do(func() { q.stopErr = q.terminate() })
	return q.stopErr
}

func (q *quietpager) terminate() error {
	q.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-q.exited:
		return err
	case <-time.After(40 * time.Second):
		q.cmd.Process.Kill()
		return errors.New("quietpager did not stop within 40 s of SIGTERM; killed")
	}
}

// serverStats are the group-commit histograms' sums and counts, read from
// /metrics; the difference of two readings describes the commits between.
type serverStats struct {
	batchSum, batchCount   float64
	commitSum, commitCount float64
}

func (q *quietpager) stats() serverStats {
	var s serverStats
	resp, err := http.Get(q.base + "/metrics")
	if err != nil {
		return s
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		v, _ := strconv.ParseFloat(value, 64)
		switch name {
		case "quietpager_write_batch_alerts_sum":
			s.batchSum = v
		case "quietpager_write_batch_alerts_count":
			s.batchCount = v
		case "quietpager_write_commit_seconds_sum":
			s.commitSum = v
		case "quietpager_write_commit_seconds_count":
			s.commitCount = v
		}
	}
	return s
}

// perCommit returns the mean alerts per commit and mean commit time
// between two readings.
func (s serverStats) perCommit(before serverStats) (alerts float64, commit time.Duration) {
	if n := s.batchCount - before.batchCount; n > 0 {
		alerts = (s.batchSum - before.batchSum) / n
	}
	if n := s.commitCount - before.commitCount; n > 0 {
		commit = time.Duration((s.commitSum - before.commitSum) / n * float64(time.Second))
	}
	return alerts, commit
}

// decodeOnly is the ceiling receiver: it reads the body, decodes it into
// the same type quietpager decodes into, and answers 200. It runs in this
// process, next to the load generator.
func decodeOnly() (target, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return target{}, nil, err
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			var p ingest.Payload
			if err := json.Unmarshal(body, &p); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"status":"ok","alerts":%d}`, len(p.Alerts))
		})}
	go srv.Serve(ln)
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}
	return target{urls: []string{"http://" + ln.Addr().String() + "/hooks/alertmanager"}}, stop, nil
}

// usage is CPU time spent, in seconds: by this process (the load
// generator, and the decode-only receiver when it runs), by the server
// process, by PostgreSQL's processes (whoever they serve) and by the
// whole machine.
type usage struct {
	gen, server, postgres, machine float64
	wall                           time.Duration
	at                             time.Time
}

func (u usage) sub(v usage) usage {
	return usage{gen: u.gen - v.gen, server: u.server - v.server, postgres: u.postgres - v.postgres,
		machine: u.machine - v.machine, wall: u.at.Sub(v.at)}
}

// percent returns each share of one core, in percent.
func (u usage) percent() (gen, server, postgres, other float64) {
	w := u.wall.Seconds() / 100
	if w <= 0 {
		return 0, 0, 0, 0
	}
	// Processes that exit between readings can make a difference negative.
	return u.gen / w, u.server / w, max(0, u.postgres/w), max(0, (u.machine-u.gen-u.server-u.postgres)/w)
}

// cpuSeconds reads a process's user+system CPU time from /proc; name, if
// not empty, must match its command name.
func cpuSeconds(pid, name string) float64 {
	b, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return 0
	}
	open, closing := strings.IndexByte(string(b), '('), strings.LastIndexByte(string(b), ')')
	if open < 0 || closing < open || (name != "" && string(b[open+1:closing]) != name) {
		return 0
	}
	// Fields after the parenthesised command: utime is the 12th, stime the 13th.
	f := strings.Fields(string(b[closing+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / ticksPerSecond
}

const ticksPerSecond = 100 // USER_HZ on Linux

// probeUsage reads the CPU times now, counting pids as the server.
func probeUsage(pids ...int) usage {
	u := usage{at: time.Now()}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		u.gen = tv(ru.Utime) + tv(ru.Stime)
	}
	for _, pid := range pids {
		u.server += cpuSeconds(strconv.Itoa(pid), "")
	}
	if procs, err := os.ReadDir("/proc"); err == nil {
		for _, p := range procs {
			if p.Name()[0] >= '0' && p.Name()[0] <= '9' {
				u.postgres += cpuSeconds(p.Name(), "postgres")
			}
		}
	}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line)
		var busy float64
		for i := 1; i < len(f); i++ {
			v, _ := strconv.ParseFloat(f[i], 64)
			if i != 4 && i != 5 && i < 8 { // user nice system irq softirq
				busy += v
			}
		}
		u.machine = busy / ticksPerSecond
	}
	return u
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

//go:build faults

package faults

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// pgBin is where Debian's postgresql-15 puts initdb and pg_ctl.
const pgBin = "/usr/lib/postgresql/15/bin"

// throwawayPostgres is a PostgreSQL cluster of the test's own, in a temp
// dir, so that it can be stopped without stopping anyone else's tests.
// It runs as the postgres user: PostgreSQL refuses to run as root.
type throwawayPostgres struct {
	dir, data string
	port      int
	asRoot    bool
}

func startThrowawayPostgres(t *testing.T) *throwawayPostgres {
	t.Helper()
	if _, err := os.Stat(filepath.Join(pgBin, "initdb")); err != nil {
		msg := "initdb not found in " + pgBin + " (apt-get install postgresql-15): case 3 needs a PostgreSQL of its own to stop"
		if onCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir, err := os.MkdirTemp("", "quietpager-faults-pg-")
	if err != nil {
		t.Fatal(err)
	}
	p := &throwawayPostgres{dir: dir, data: filepath.Join(dir, "data"), port: freePort(t), asRoot: os.Geteuid() == 0}
	if p.asRoot {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root, PostgreSQL needs the postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_ = p.pgCtl("stop", "-m", "immediate")
		os.RemoveAll(dir)
	})
	if out, err := p.command("initdb", "-D", p.data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	return p
}

// command runs a PostgreSQL program as the postgres user.
func (p *throwawayPostgres) command(prog string, args ...string) *exec.Cmd {
	path := filepath.Join(pgBin, prog)
	if p.asRoot {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

func (p *throwawayPostgres) pgCtl(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := p.command("pg_ctl", append([]string{"-D", p.data, "-w", "-t", "30"}, args...)...)
	cmd = exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

func (p *throwawayPostgres) start() error {
	return p.pgCtl("-l", filepath.Join(p.dir, "postgres.log"), "-o",
		fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", p.port, p.dir), "start")
}

// stop is `pg_ctl stop -m fast`: sessions are cut off, the server is down
// until start.
func (p *throwawayPostgres) stop() error { return p.pgCtl("stop", "-m", "fast") }

func (p *throwawayPostgres) dsn() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// readiness polls /readyz every 100 ms and keeps each change of answer.
type readiness struct {
	mu      sync.Mutex
	changes []string
	codes   []int
	last    int
}

func watchReadiness(t *testing.T, r *replica) *readiness {
	w := &readiness{last: -1}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			code, body := r.get("/readyz", "")
			w.mu.Lock()
			if code != w.last {
				w.changes = append(w.changes, fmt.Sprintf("%5.1fs %d %s", time.Since(start).Seconds(), code, strings.TrimSpace(tail(body, 120))))
				w.codes = append(w.codes, code)
				w.last = code
			}
			w.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

// sawOutage reports whether /readyz answered something other than 200
// and then 200 again.
func (w *readiness) sawOutage() (down, backUp bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range w.codes {
		if c != http.StatusOK {
			down = true
		} else if down {
			backUp = true
		}
	}
	return down, backUp
}

func (w *readiness) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.changes, "\n\t")
}

// TestPostgresRestartedMidStorm is case 3: PostgreSQL stops halfway
// through a storm and comes back; the replica is not restarted.
func TestPostgresRestartedMidStorm(t *testing.T) {
	pg := startThrowawayPostgres(t)
	dsn := pg.dsn()
	token := createToken(t, dsn)
	receiver := startPageReceiver(t)
	apply(t, dsn, stormOnCall(receiver.URL, receiver.secret))
	r := startReplica(t, "replica", dsn, "--page-retry", "1s")
	ready := watchReadiness(t, r)
	lb := startBalancer(t, r.URL)
	ams := startAlertmanagers(t, 1, lb.srv.URL, token)

	// One group after the other this time, so that the groups pushed
	// during the outage open their incidents, and page, only after it.
	s := newStorm(10, 200)
	slices.SortStableFunc(s.alerts, func(a, b amAlert) int { return strings.Compare(a.Labels["cluster"], b.Labels["cluster"]) })
	t.Logf("sent: %s to Alertmanager %s, one group after the other in chunks of 200; it sends to the replica through the balancer; PostgreSQL on port %d",
		s, ams[0], pg.port)
	var stoppedAt time.Time
	pushInChunks(t, ams, s.alerts, 200, func(i int) {
		if i != 3 {
			return
		}
		if err := pg.stop(); err != nil {
			t.Fatal(err)
		}
		stoppedAt = time.Now()
		t.Logf("stopped PostgreSQL (pg_ctl stop -m fast) after %d of %d alerts", (i+1)*200, len(s.alerts))
	})
	waitFor(t, 30*time.Second, "webhooks answered 503 and /readyz reporting the outage", func() (bool, string) {
		down, _ := ready.sawOutage()
		return down && lb.answers(http.StatusServiceUnavailable) > 0, fmt.Sprintf("%s; readyz:\n\t%s", lb, ready)
	})
	// Down for at least 8 s: several of Alertmanager's flushes fail.
	time.Sleep(time.Until(stoppedAt.Add(8 * time.Second)))
	if code, body := r.get("/readyz", ""); code == http.StatusOK {
		t.Errorf("/readyz answered 200 while PostgreSQL is down: %s", body)
	}
	during := lb.String()
	if err := pg.start(); err != nil {
		t.Fatal(err)
	}
	restartedAt := time.Now()
	t.Logf("started PostgreSQL again after %.1fs; while it was down: %s", time.Since(stoppedAt).Seconds(), during)

	waitFor(t, 30*time.Second, "/readyz to answer 200 again", func() (bool, string) {
		_, up := ready.sawOutage()
		return up, ready.String()
	})
	waitFor(t, 90*time.Second, "every alert of the storm to be stored", func() (bool, string) {
		list, err := r.alerts(token)
		if err != nil {
			return false, err.Error()
		}
		for _, al := range list {
			if al.Episodes != 1 {
				t.Fatalf("alert %v has %d episodes, want 1", al.Labels, al.Episodes)
			}
		}
		return len(list) == len(s.alerts), fmt.Sprintf("%d of %d alerts stored; %s", len(list), len(s.alerts), lb)
	})
	var incidents []apiIncident
	waitFor(t, 30*time.Second, "one incident per group holding all its alerts", func() (bool, string) {
		var err error
		if incidents, err = r.incidents(token); err != nil {
			return false, err.Error()
		}
		full := 0
		for _, in := range incidents {
			if in.Alerts == s.perGroup {
				full++
			}
		}
		return len(incidents) == s.groups && full == s.groups,
			fmt.Sprintf("%d incidents, %d of them with %d alerts", len(incidents), full, s.perGroup)
	})
	waitFor(t, 60*time.Second, "a page for every incident", func() (bool, string) {
		n := len(receiver.pages())
		return n == s.groups, fmt.Sprintf("%d of %d incidents paged", n, s.groups)
	})
	time.Sleep(3 * time.Second)
	t.Logf("stored: %d alerts, one episode each; %d incidents of %d alerts each; %s", len(s.alerts), len(incidents), s.perGroup, lb)
	t.Logf("paged: %s; /readyz over the run:\n\t%s", receiver, ready)
	t.Logf("Alertmanager: %s", amNotifications(t, ams[0]))
	webhook := receiver.pages()
	after := 0
	for _, in := range incidents {
		if in.OpenedAt.After(restartedAt) {
			after++
		}
		if webhook[in.ID] != 1 {
			t.Errorf("incident %d (%s): %d webhook pages, want 1", in.ID, in.GroupKey, webhook[in.ID])
		}
	}
	// The incidents that opened after the outage were paged by the same
	// process's job queue: it came back by itself.
	t.Logf("%d of the %d incidents opened after PostgreSQL came back", after, len(incidents))
	if after == 0 {
		t.Errorf("no incident opened after the restart, so the job queue's recovery is untested: push later")
	}
	if !r.running() {
		t.Errorf("the replica exited")
	}
}

// amNotifications sums Alertmanager's own counters of webhook
// notifications sent and failed.
func amNotifications(t *testing.T, am string) string {
	t.Helper()
	resp, err := http.Get(am + "/metrics")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err.Error()
	}
	sum := map[string]float64{}
	for line := range strings.SplitSeq(string(body), "\n") {
		for _, name := range []string{"alertmanager_notifications_total", "alertmanager_notifications_failed_total"} {
			if strings.HasPrefix(line, name+"{") && strings.Contains(line, `integration="webhook"`) {
				f := strings.Fields(line)
				v, _ := strconv.ParseFloat(f[len(f)-1], 64)
				sum[name] += v
			}
		}
	}
	return fmt.Sprintf("%v webhook notifications, %v of them failed (and retried)",
		sum["alertmanager_notifications_total"], sum["alertmanager_notifications_failed_total"])
}

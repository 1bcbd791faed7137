//go:build faults

package faults

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/quietpager/quietpager/integrations/mailpittest"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
)

// stormOnCall pages team sre: its signed webhook and alice by e-mail at
// once, bob by e-mail 20 s later if nobody acknowledged. The second step is
// work that waits in the job queue, to be done by whichever replica is
// alive when it falls due.
func stormOnCall(webhookURL, secret string) string {
	return fmt.Sprintf(`people:
  - {name: alice, email: alice@example.com, time_zone: UTC}
  - {name: bob, email: bob@example.com, time_zone: UTC}
teams:
  - name: sre
    time_zone: UTC
    webhook: {url: %q, secret: %q}
    members: [alice, bob]
rotations:
  - {name: sre-primary, team: sre, members: [alice], shift: 1w, start: "2026-11-02T09:00"}
  - {name: sre-secondary, team: sre, members: [bob], shift: 1w, start: "2026-11-02T09:00"}
escalation:
  - team: sre
    steps:
      - {delay: 0m, rotation: sre-primary}
      - {delay: 20s, rotation: sre-secondary}
routes:
  - {name: everything, default: true, team: sre, urgency: page}
`, webhookURL, secret)
}

// mailbox reads the pages mailpit received. quietpager's Message-ID names
// the page: <page-INCIDENT-OPENING-STEP-ROUND-PERSON@quietpager>.
type mailbox struct{ api string }

var pageMessageID = regexp.MustCompile(`^<?page-(\d+)-\d+-\d+-\d+-(\w+)@quietpager>?$`)

// pages counts the e-mails per person and incident.
func (m mailbox) pages() (map[string]map[int64]int, error) {
	resp, err := http.Get(m.api + "/api/v1/messages?limit=5000")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var list struct {
		Messages []struct{ MessageID string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, err
	}
	out := map[string]map[int64]int{}
	for _, msg := range list.Messages {
		m := pageMessageID.FindStringSubmatch(msg.MessageID)
		if m == nil {
			return nil, fmt.Errorf("e-mail with Message-ID %q is not a page", msg.MessageID)
		}
		id, _ := strconv.ParseInt(m[1], 10, 64)
		if out[m[2]] == nil {
			out[m[2]] = map[int64]int{}
		}
		out[m[2]][id]++
	}
	return out, nil
}

// jobQueue looks at River's table directly, to tell when no page job is
// running or due. Other kinds (periodic maintenance) are not counted.
type jobQueue struct{ db *sql.DB }

func (q jobQueue) busy(t *testing.T) (running, due, scheduled int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := q.db.QueryRowContext(ctx, `SELECT
			count(*) FILTER (WHERE state = 'running'),
			count(*) FILTER (WHERE state IN ('available', 'retryable')),
			count(*) FILTER (WHERE state = 'scheduled')
		FROM river_job WHERE kind IN ('page', 'page_update')`).Scan(&running, &due, &scheduled)
	if err != nil {
		t.Fatalf("read river_job: %v", err)
	}
	return running, due, scheduled
}

// nextScheduled is how long until the next scheduled job falls due
// (PostgreSQL only); an hour when none is.
func (q jobQueue) nextScheduled(t *testing.T) time.Duration {
	t.Helper()
	var at sql.NullTime
	if err := q.db.QueryRow(`SELECT min(scheduled_at) FROM river_job WHERE state = 'scheduled' AND kind IN ('page', 'page_update')`).Scan(&at); err != nil {
		t.Fatalf("read river_job: %v", err)
	}
	if !at.Valid {
		return time.Hour
	}
	return time.Until(at.Time)
}

func (q jobQueue) leader(t *testing.T) string {
	t.Helper()
	var id string
	err := q.db.QueryRow(`SELECT leader_id FROM river_leader`).Scan(&id)
	if err != nil && err != sql.ErrNoRows {
		t.Fatalf("read river_leader: %v", err)
	}
	return id
}

// TestStormTwoAlertmanagersTwoReplicas is case 1: an Alertmanager HA pair
// sends a storm to two replicas on one PostgreSQL.
func TestStormTwoAlertmanagersTwoReplicas(t *testing.T) {
	runStorm(t, false)
}

// TestStormReplicaKilled is case 2: the same storm, and the replica that
// leads the job queue is killed with SIGKILL halfway through.
func TestStormReplicaKilled(t *testing.T) {
	runStorm(t, true)
}

func runStorm(t *testing.T, kill bool) {
	dsn := migrationstest.DSN(t, migrations.Postgres)
	mail, ok := mailpittest.Start(t)
	if !ok {
		t.Skip(mailpittest.Missing)
	}
	token := createToken(t, dsn)
	receiver := startPageReceiver(t)
	apply(t, dsn, stormOnCall(receiver.URL, receiver.secret))
	db := migrationstest.Open(t, dsn)
	queue := jobQueue{db.SQL}

	args := []string{"--smtp-addr", mail.SMTPAddr(), "--smtp-tls=false", "--page-retry", "1s"}
	a := startReplica(t, "replica a", dsn, args...)
	// a starts alone, so it leads the job queue (River's leader moves
	// scheduled jobs to the queue): killing it takes the leader away.
	waitFor(t, 30*time.Second, "replica a to lead the job queue", func() (bool, string) {
		id := queue.leader(t)
		return id != "", "no leader"
	})
	leader := queue.leader(t)
	b := startReplica(t, "replica b", dsn, args...)
	lb := startBalancer(t, a.URL, b.URL)
	ams := startAlertmanagers(t, 2, lb.srv.URL, token)

	s := newStorm(20, 150)
	t.Logf("sent: %s, each pushed to both Alertmanagers (%s, %s) in chunks of 200; they send to replicas %s and %s through a round-robin balancer",
		s, ams[0], ams[1], a.URL, b.URL)

	// The first alert of every group opens its incident; its first page
	// goes out before the rest of the storm arrives.
	push(t, ams, s.alerts[:s.groups])
	waitFor(t, 60*time.Second, "the first page of every incident", func() (bool, string) {
		running, due, _ := queue.busy(t)
		n := len(receiver.pages())
		return n == s.groups && running == 0 && due == 0,
			fmt.Sprintf("%d of %d incidents paged, %d jobs running, %d due", n, s.groups, running, due)
	})

	survivor := a
	pushInChunks(t, ams, s.alerts[s.groups:], 200, func(i int) {
		if !kill || i != 6 {
			return
		}
		// Killed at a moment when no page job runs: the jobs still to do
		// are the escalations waiting in the queue. (A job cut off while it
		// runs would wait for River's rescuer, an hour by default: see
		// docs/faults.md.)
		waitFor(t, 10*time.Second, "no page job running or due for 3 s", func() (bool, string) {
			running, due, _ := queue.busy(t)
			next := queue.nextScheduled(t)
			return running == 0 && due == 0 && next > 3*time.Second,
				fmt.Sprintf("%d running, %d due, next in %s", running, due, next)
		})
		a.kill()
		survivor = b
		t.Logf("killed replica a (job queue leader %s) with SIGKILL after %d of %d alerts", leader, s.groups+(i+1)*200, len(s.alerts))
	})

	// Every alert stored once: one alert row each, one episode each.
	waitFor(t, 90*time.Second, "every alert of the storm to be stored", func() (bool, string) {
		list, err := survivor.alerts(token)
		if err != nil {
			return false, err.Error()
		}
		for _, al := range list {
			if al.Episodes != 1 {
				t.Fatalf("alert %v has %d episodes, want 1", al.Labels, al.Episodes)
			}
		}
		return len(list) == len(s.alerts), fmt.Sprintf("%d of %d alerts stored", len(list), len(s.alerts))
	})
	var incidents []apiIncident
	waitFor(t, 30*time.Second, "one incident per group holding all its alerts", func() (bool, string) {
		var err error
		if incidents, err = survivor.incidents(token); err != nil {
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
	t.Logf("stored: %d alerts, one episode each; %d incidents of %d alerts each; %s", len(s.alerts), len(incidents), s.perGroup, lb)

	// The escalation to bob falls due 20 s after alice's page, whether or
	// not the replica that scheduled it is alive.
	box := mailbox{mail.API}
	waitFor(t, 90*time.Second, "alice's and bob's pages for every incident", func() (bool, string) {
		got, err := box.pages()
		if err != nil {
			return false, err.Error()
		}
		return len(got["alice"]) == s.groups && len(got["bob"]) == s.groups,
			fmt.Sprintf("alice paged for %d incidents, bob for %d", len(got["alice"]), len(got["bob"]))
	})
	// Give any duplicate time to show: Alertmanager's flushes and the job
	// queue's retries are done well within this.
	time.Sleep(3 * time.Second)
	got, err := box.pages()
	if err != nil {
		t.Fatal(err)
	}
	webhook := receiver.pages()
	t.Logf("paged: webhook %s; e-mail: alice %d incidents, bob %d incidents; job queue leader now %s",
		receiver, len(got["alice"]), len(got["bob"]), queue.leader(t))
	for _, in := range incidents {
		if webhook[in.ID] != 1 || got["alice"][in.ID] != 1 || got["bob"][in.ID] != 1 {
			t.Errorf("incident %d (%s): %d webhook pages, %d e-mails to alice, %d to bob; want one each",
				in.ID, in.GroupKey, webhook[in.ID], got["alice"][in.ID], got["bob"][in.ID])
		}
	}
	if len(webhook) != s.groups {
		t.Errorf("webhook pages for %d incidents, want %d", len(webhook), s.groups)
	}
	if kill && lb.answers(http.StatusOK) == 0 {
		t.Errorf("the balancer saw no webhook answered: %s", lb)
	}
}

package web_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/quietpager/quietpager/rotation/paging"
	"github.com/quietpager/quietpager/web"
)

// deadLetterUI is the incident UI with a pager whose page jobs always fail
// (its incident store is down), so that every page job becomes a dead
// letter after six attempts, 1 ms apart.
type deadLetterUI struct {
	*incidentUI
	t     *testing.T
	pager *paging.Pager
	jobs  *river.Client[*sql.Tx]
}

func newDeadLetterUI(t *testing.T) *deadLetterUI {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	pager := paging.New(paging.Options{Incidents: brokenIncidents{}, Now: time.Now, Logger: log})
	s := &deadLetterUI{t: t, pager: pager}
	s.incidentUI = newIncidentUI(t, func(o *web.Options) { o.DeadLetters = pager })
	workers := river.NewWorkers()
	pager.Register(workers)
	jobs, err := river.NewClient(s.DB.RiverDriver(), &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 2}},
		Workers:           workers,
		FetchCooldown:     5 * time.Millisecond,
		FetchPollInterval: 20 * time.Millisecond,
		RetryPolicy:       paging.Backoff{Base: time.Millisecond},
		Logger:            log,
	})
	if err != nil {
		t.Fatal(err)
	}
	pager.SetClient(jobs)
	if err := jobs.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // before the database closes: cleanups run last first
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = jobs.Stop(stopCtx)
	})
	s.jobs = jobs
	return s
}

// deadLetter inserts a page job for incident and waits until it is a dead
// letter; it returns the job's id.
func (s *deadLetterUI) deadLetter(incident int64) int64 {
	s.t.Helper()
	ins, err := s.jobs.Insert(context.Background(), paging.PageArgs{IncidentID: incident}, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	s.waitAttempts(ins.Job.ID, 6)
	return ins.Job.ID
}

// waitAttempts waits until job id is a dead letter after n attempts.
func (s *deadLetterUI) waitAttempts(id int64, n int) {
	s.t.Helper()
	ocWait(s.t, 20*time.Second, fmt.Sprintf("job %d to be a dead letter after %d attempts", id, n), func() (bool, string) {
		list, err := s.pager.DeadLetters(context.Background())
		if err != nil {
			return false, err.Error()
		}
		for _, dl := range list {
			if dl.ID == id && dl.Attempts == n {
				return true, ""
			}
		}
		return false, fmt.Sprint(list)
	})
}

func TestDeadLettersPageEmpty(t *testing.T) {
	s := newDeadLetterUI(t)
	wantPage(t, "no dead letters", s.login("victor").get("/deadletters"), http.StatusOK, "No dead letters")
}

func TestDeadLettersPageAndReplay(t *testing.T) {
	s := newDeadLetterUI(t)
	incident := s.open(diskFull) // team payments
	job := s.deadLetter(incident)
	gone := s.deadLetter(4242) // an incident that is gone: admins only

	row := func(p page, id int64) string {
		t.Helper()
		i := strings.Index(p.Body, fmt.Sprintf(`data-deadletter="%d"`, id))
		if i < 0 {
			t.Fatalf("dead letter %d not on the page: %s", id, p.Body)
		}
		end := strings.Index(p.Body[i:], "</tr>")
		return p.Body[i : i+end]
	}
	replay := func(id int64) string { return fmt.Sprintf(`action="/deadletters/%d/replay"`, id) }

	alice := s.login("alice")
	p := alice.get("/deadletters")
	wantPage(t, "dead letters", p, http.StatusOK, fmt.Sprintf(`href="/incidents/%d"`, incident), "DiskFull", "payments",
		"incident store is down", ">6<", "#4242", "(gone)")
	if r := row(p, job); !strings.Contains(r, replay(job)) || !strings.Contains(r, "<button>Replay</button>") {
		t.Errorf("alice (payments) has no Replay button for her team's dead letter: %s", r)
	}
	if r := row(p, gone); strings.Contains(r, "Replay") {
		t.Errorf("alice has a Replay button for a dead letter without a team: %s", r)
	}
	for _, name := range []string{"carol", "victor"} {
		if strings.Contains(s.login(name).get("/deadletters").Body, "<button>Replay</button>") {
			t.Errorf("%s sees a Replay button", name)
		}
	}

	// Refused: another team's member, a viewer, alice for the team-less
	// one, no CSRF token, an unknown dead letter.
	for _, c := range []struct {
		user   string
		id     string
		status int
	}{
		{"carol", fmt.Sprint(job), http.StatusForbidden},
		{"victor", fmt.Sprint(job), http.StatusForbidden},
		{"alice", fmt.Sprint(gone), http.StatusForbidden},
		{"alice", "987654", http.StatusNotFound},
		{"alice", "abc", http.StatusNotFound},
	} {
		b := s.login(c.user)
		b.get("/deadletters")
		wantPage(t, c.user+" replays "+c.id, b.post("/deadletters/"+c.id+"/replay", nil), c.status)
	}
	if r := alice.post(fmt.Sprintf("/deadletters/%d/replay", job), map[string][]string{"csrf_token": {"forged"}}); r.Status != http.StatusForbidden {
		t.Errorf("replay with a forged token: %d, want 403", r.Status)
	}
	if list, _ := s.pager.DeadLetters(context.Background()); len(list) != 2 || list[0].Attempts != 6 || list[1].Attempts != 6 {
		t.Fatalf("refused replays changed the dead letters: %+v", list)
	}

	alice.get("/deadletters")
	r := alice.post(fmt.Sprintf("/deadletters/%d/replay", job), nil)
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location, "/deadletters?flash=") {
		t.Fatalf("replay: %d to %q, want 303 back to /deadletters", r.Status, r.Location)
	}
	// It ran once more (its incident store is still down) and is back.
	s.waitAttempts(job, 7)
	p = alice.get("/deadletters")
	wantPage(t, "after the replay", p, http.StatusOK, "Changes", fmt.Sprintf("replayed: job %d (page for incident #%d", job, incident))
	if m := strings.Count(p.Body, "replayed: job"); m != 1 {
		t.Errorf("%d replay entries in the audit log, want 1", m)
	}
	if r := row(p, job); !strings.Contains(r, ">7<") {
		t.Errorf("replayed dead letter row: %s, want 7 attempts", r)
	}

	root := s.login("root")
	root.get("/deadletters")
	if r := root.post(fmt.Sprintf("/deadletters/%d/replay", gone), nil); r.Status != http.StatusSeeOther {
		t.Errorf("admin replays the team-less dead letter: %d %s", r.Status, r.Body)
	}
}

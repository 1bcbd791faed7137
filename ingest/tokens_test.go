package ingest_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/ingest"
	tokenstore "github.com/quietpager/quietpager/ingest/sqlstore"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 11, 3, 3, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newTokens(t testing.TB) (*tokenstore.Tokens, *migrations.DB) {
	t.Helper()
	db := migrationstest.Open(t, migrationstest.DSN(t, migrations.SQLite))
	return tokenstore.New(db), db
}

func createToken(t testing.TB, s *tokenstore.Tokens, name string) string {
	t.Helper()
	secret, err := s.Create(context.Background(), name, time.Now())
	if err != nil {
		t.Fatalf("create token %s: %v", name, err)
	}
	if !strings.HasPrefix(secret, "qp_") {
		t.Errorf("token %q lacks the qp_ prefix secret scanners look for", secret)
	}
	return secret
}

func wantCode(t testing.TB, err error, want quietpager.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	if got := quietpager.ErrorCode(err); got != want {
		t.Fatalf("code %q, want %q: %v", got, want, err)
	}
}

func TestAuthenticatorTokens(t *testing.T) {
	store, _ := newTokens(t)
	am := createToken(t, store, "alertmanager")
	ci := createToken(t, store, "ci")
	clk := newClock()
	auth := &ingest.Authenticator{Store: store, TTL: time.Minute, Now: clk.Now}
	ctx := context.Background()

	for _, tc := range []struct{ secret, name string }{{am, "alertmanager"}, {ci, "ci"}} {
		name, err := auth.Authenticate(ctx, tc.secret)
		if err != nil || name != tc.name {
			t.Errorf("Authenticate(%s token) = %q, %v; want %q", tc.name, name, err, tc.name)
		}
	}
	for _, bad := range []string{"", "qp_wrong", am + "x", strings.TrimPrefix(am, "qp_"), ingest.HashToken(am)} {
		name, err := auth.Authenticate(ctx, bad)
		if name != "" {
			t.Errorf("Authenticate(%q) = %q", bad, name)
		}
		wantCode(t, err, quietpager.Unauthorized)
	}
}

func TestAuthenticatorRevokedTokenStopsWorkingAfterTTL(t *testing.T) {
	store, _ := newTokens(t)
	am := createToken(t, store, "alertmanager")
	clk := newClock()
	auth := &ingest.Authenticator{Store: store, TTL: time.Minute, Now: clk.Now}
	ctx := context.Background()

	if _, err := auth.Authenticate(ctx, am); err != nil {
		t.Fatal(err)
	}
	if err := store.Revoke(ctx, "alertmanager"); err != nil {
		t.Fatal(err)
	}
	late := createToken(t, store, "late")

	clk.Advance(59 * time.Second)
	if name, err := auth.Authenticate(ctx, am); err != nil || name != "alertmanager" {
		t.Errorf("within the TTL the cached token should still work: %q, %v", name, err)
	}
	if _, err := auth.Authenticate(ctx, late); err == nil {
		t.Log("a token created within the TTL already works (no harm)")
	}

	clk.Advance(2 * time.Second)
	_, err := auth.Authenticate(ctx, am)
	wantCode(t, err, quietpager.Unauthorized)
	if name, err := auth.Authenticate(ctx, late); err != nil || name != "late" {
		t.Errorf("a token created before the reload does not work after it: %q, %v", name, err)
	}
}

// While the database is away, senders with known tokens must get the 503
// from the write (which Alertmanager retries), not a 401 (which it does not).
func TestAuthenticatorKeepsKnownTokensWhenStoreFails(t *testing.T) {
	store, db := newTokens(t)
	am := createToken(t, store, "alertmanager")
	clk := newClock()
	auth := &ingest.Authenticator{Store: store, TTL: time.Minute, Now: clk.Now}
	ctx := context.Background()
	if _, err := auth.Authenticate(ctx, am); err != nil {
		t.Fatal(err)
	}

	db.Close()
	clk.Advance(10 * time.Minute)
	for range 3 {
		name, err := auth.Authenticate(ctx, am)
		if err != nil || name != "alertmanager" {
			t.Fatalf("known token refused while the database is down: %q, %v", name, err)
		}
		clk.Advance(time.Minute)
	}
	_, err := auth.Authenticate(ctx, "qp_wrong")
	wantCode(t, err, quietpager.Unauthorized)
}

func TestAuthenticatorFirstLoadFailsUnavailable(t *testing.T) {
	store, db := newTokens(t)
	am := createToken(t, store, "alertmanager")
	db.Close()
	auth := &ingest.Authenticator{Store: store, TTL: time.Minute, Now: newClock().Now}
	name, err := auth.Authenticate(context.Background(), am)
	if name != "" {
		t.Errorf("name %q", name)
	}
	wantCode(t, err, quietpager.Unavailable)
	if msg := quietpager.ErrorMessage(err); strings.Contains(msg, "sql") {
		t.Errorf("message %q shows the database error to the client", msg)
	}
}

func TestAuthenticatorConcurrent(t *testing.T) {
	store, _ := newTokens(t)
	am := createToken(t, store, "alertmanager")
	clk := newClock()
	auth := &ingest.Authenticator{Store: store, TTL: time.Second, Now: clk.Now}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				if j%10 == 0 && i == 0 {
					clk.Advance(time.Second)
				}
				if name, err := auth.Authenticate(context.Background(), am); err != nil || name != "alertmanager" {
					t.Errorf("Authenticate = %q, %v", name, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestNewTokenIsRandomAndHashed(t *testing.T) {
	s1, h1 := ingest.NewToken()
	s2, h2 := ingest.NewToken()
	if s1 == s2 || h1 == h2 {
		t.Fatal("two tokens are equal")
	}
	if h1 != ingest.HashToken(s1) || strings.Contains(h1, s1) {
		t.Errorf("hash %q is not HashToken of the secret", h1)
	}
	if len(s1) < 40 {
		t.Errorf("token %q is short", s1)
	}
}

// A database that does not answer (here: its only connection held by
// someone else, as a hung PostgreSQL or a long transaction would) must not
// hold known tokens hostage: the reload is bounded and the copy it has is
// used. Otherwise every webhook queues behind the one reload, with no
// answer at all, where the write path would have answered 503.
func TestAuthenticatorReloadDoesNotHangOnStuckDatabase(t *testing.T) {
	store, db := newTokens(t)
	am := createToken(t, store, "alertmanager")
	clk := newClock()
	auth := &ingest.Authenticator{Store: store, TTL: time.Minute, Now: clk.Now}
	if _, err := auth.Authenticate(context.Background(), am); err != nil {
		t.Fatal(err)
	}

	conn, err := db.SQL.Conn(context.Background()) // SQLite is opened with one connection
	if err != nil {
		t.Fatal(err)
	}
	released := false
	release := func() {
		if !released {
			released = true
			conn.Close()
		}
	}
	defer release()
	clk.Advance(2 * time.Minute)

	type result struct {
		name string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		// The web layer passes the request's context, which has no deadline.
		name, err := auth.Authenticate(context.Background(), am)
		done <- result{name, err}
	}()
	select {
	case r := <-done:
		if r.err != nil || r.name != "alertmanager" {
			t.Errorf("known token while the database is stuck: %q, %v", r.name, r.err)
		}
	case <-time.After(6 * time.Second):
		release()
		<-done
		t.Fatal("Authenticate blocked for 6s on a token reload the database could not serve; every webhook waits behind it (holding a.mu)")
	}
}

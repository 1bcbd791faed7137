package sqlstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/ingest"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
	"github.com/quietpager/quietpager/web/account"
	"github.com/quietpager/quietpager/web/account/sqlstore"
)

const password = "correct horse battery"

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// fixture is a store on a fresh database with alice (admin) added.
type fixture struct {
	t     *testing.T
	db    *migrations.DB
	store *sqlstore.Store
}

func (f fixture) add(name string, role account.Role, person string) account.User {
	f.t.Helper()
	u, err := f.store.AddUser(context.Background(), name, role, person, password, t0)
	if err != nil {
		f.t.Fatal(err)
	}
	return u
}

func (f fixture) login(name, pw string, now time.Time) (string, error) {
	token, _, err := f.store.Login(context.Background(), name, pw, now, time.Hour)
	return token, err
}

func (f fixture) mustLogin(name string) string {
	f.t.Helper()
	token, err := f.login(name, password, t0)
	if err != nil {
		f.t.Fatalf("login %s: %v", name, err)
	}
	return token
}

// live reports whether token's session works at t0.
func (f fixture) live(token string) bool {
	f.t.Helper()
	_, err := f.store.Session(context.Background(), token, t0)
	if err != nil && quietpager.ErrorCode(err) != quietpager.Unauthorized {
		f.t.Fatalf("session: %v", err)
	}
	return err == nil
}

func wantCode(t *testing.T, what string, err error, code quietpager.Code) {
	t.Helper()
	if quietpager.ErrorCode(err) != code {
		t.Errorf("%s: error %v (code %v), want code %v", what, err, quietpager.ErrorCode(err), code)
	}
}

func eachDialect(t *testing.T, f func(t *testing.T, fx fixture)) {
	migrationstest.ForEachDialect(t, func(t *testing.T, _ string, db *migrations.DB) {
		fx := fixture{t: t, db: db, store: sqlstore.New(db)}
		fx.add("alice", account.Admin, "alice")
		f(t, fx)
	})
}

func TestUsers(t *testing.T) {
	eachDialect(t, func(t *testing.T, fx fixture) {
		ctx := context.Background()
		bob := fx.add("bob", account.Member, "bob")
		if bob.Name != "bob" || bob.Role != account.Member || bob.Person != "bob" || !bob.Created.Equal(t0) {
			t.Errorf("added user %+v", bob)
		}
		_, err := fx.store.AddUser(ctx, "bob", account.Viewer, "", password, t0)
		wantCode(t, "adding bob twice", err, quietpager.Conflict)
		_, err = fx.store.AddUser(ctx, "carol", account.Member, "", password, t0)
		wantCode(t, "a member without a person", err, quietpager.Invalid)
		_, err = fx.store.AddUser(ctx, "carol", "root", "", password, t0)
		wantCode(t, "an unknown role", err, quietpager.Invalid)
		_, err = fx.store.AddUser(ctx, "carol", account.Viewer, "", "short", t0)
		wantCode(t, "a short password", err, quietpager.Invalid)

		users, err := fx.store.Users(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(users) != 2 || users[0].Name != "alice" || users[1].Name != "bob" {
			t.Errorf("users %+v, want alice and bob (the refused ones not stored)", users)
		}

		// The password is stored as a bcrypt hash of itself.
		var hash string
		if err := fx.db.SQL.QueryRowContext(ctx, "SELECT password_hash FROM users WHERE name = 'bob'").Scan(&hash); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(hash, password) || bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
			t.Errorf("stored password %q is not a bcrypt hash of the password", hash)
		}
		if cost, err := bcrypt.Cost([]byte(hash)); err != nil || cost < bcrypt.DefaultCost {
			t.Errorf("bcrypt cost %d (%v), want at least %d", cost, err, bcrypt.DefaultCost)
		}
	})
}

func TestLoginAndSessions(t *testing.T) {
	eachDialect(t, func(t *testing.T, fx fixture) {
		ctx := context.Background()
		fx.add("bob", account.Viewer, "")

		_, err := fx.login("bob", "wrong password", t0)
		wantCode(t, "a wrong password", err, quietpager.Unauthorized)
		_, err2 := fx.login("nobody", password, t0)
		wantCode(t, "an unknown user", err2, quietpager.Unauthorized)
		if err != nil && err2 != nil && err.Error() != err2.Error() {
			t.Errorf("a wrong password (%q) and an unknown user (%q) get different answers", err, err2)
		}

		token, sess, err := fx.store.Login(ctx, "bob", password, t0, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if sess.User.Name != "bob" || sess.CSRF == "" || sess.CSRF == token || !sess.Expires.Equal(t0.Add(time.Hour)) {
			t.Errorf("session %+v", sess)
		}

		// Only the token's hash is stored.
		var stored []string
		rows, err := fx.db.SQL.QueryContext(ctx, "SELECT token_hash FROM sessions")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var h string
			if err := rows.Scan(&h); err != nil {
				t.Fatal(err)
			}
			stored = append(stored, h)
		}
		rows.Close()
		if len(stored) != 1 || stored[0] != ingest.HashToken(token) || strings.Contains(stored[0], token) {
			t.Errorf("sessions table holds %q, want only the hash of the token", stored)
		}

		// The session lasts its TTL and not a moment longer.
		for _, tc := range []struct {
			at   time.Time
			live bool
		}{{t0, true}, {t0.Add(time.Hour - time.Microsecond), true}, {t0.Add(time.Hour), false}, {t0.Add(48 * time.Hour), false}} {
			got, err := fx.store.Session(ctx, token, tc.at)
			if tc.live && (err != nil || got.User.Name != "bob" || got.CSRF != sess.CSRF) {
				t.Errorf("session at %s: %+v, %v; want bob's", tc.at, got, err)
			}
			if !tc.live {
				wantCode(t, "session after it expired", err, quietpager.Unauthorized)
			}
		}
		_, err = fx.store.Session(ctx, token+"x", t0)
		wantCode(t, "a wrong session token", err, quietpager.Unauthorized)

		// Logout ends this session, not the user's others.
		other := fx.mustLogin("bob")
		if err := fx.store.Logout(ctx, token); err != nil {
			t.Fatal(err)
		}
		if fx.live(token) {
			t.Error("the session works after logout")
		}
		if !fx.live(other) {
			t.Error("logging out one browser ended the user's other session")
		}
	})
}

func TestPasswordChangeAndDeleteEndSessions(t *testing.T) {
	eachDialect(t, func(t *testing.T, fx fixture) {
		ctx := context.Background()
		fx.add("bob", account.Viewer, "")
		fx.add("carol", account.Viewer, "")
		bob1, bob2, carol := fx.mustLogin("bob"), fx.mustLogin("bob"), fx.mustLogin("carol")

		const newPassword = "a brand new password"
		if err := fx.store.SetPassword(ctx, "bob", newPassword); err != nil {
			t.Fatal(err)
		}
		if fx.live(bob1) || fx.live(bob2) {
			t.Error("bob's sessions survive a password change")
		}
		if !fx.live(carol) {
			t.Error("bob's password change ended carol's session")
		}
		if _, err := fx.login("bob", password, t0); err == nil {
			t.Error("the old password still works")
		}
		bob3, err := fx.login("bob", newPassword, t0)
		if err != nil {
			t.Fatalf("the new password does not work: %v", err)
		}
		wantCode(t, "a short new password", fx.store.SetPassword(ctx, "bob", "short"), quietpager.Invalid)
		wantCode(t, "an unknown user's password", fx.store.SetPassword(ctx, "nobody", newPassword), quietpager.NotFound)

		if err := fx.store.DeleteUser(ctx, "bob"); err != nil {
			t.Fatal(err)
		}
		if fx.live(bob3) {
			t.Error("a deleted user's session still works")
		}
		if _, err := fx.login("bob", newPassword, t0); err == nil {
			t.Error("a deleted user can log in")
		}
		if !fx.live(carol) {
			t.Error("deleting bob ended carol's session")
		}
		wantCode(t, "deleting an unknown user", fx.store.DeleteUser(ctx, "bob"), quietpager.NotFound)
	})
}

func TestRolesKeepAnAdmin(t *testing.T) {
	eachDialect(t, func(t *testing.T, fx fixture) {
		ctx := context.Background()
		fx.add("bob", account.Viewer, "")
		token := fx.mustLogin("bob")

		wantCode(t, "deleting the last admin", fx.store.DeleteUser(ctx, "alice"), quietpager.Conflict)
		_, err := fx.store.SetRole(ctx, "alice", account.Viewer, "")
		wantCode(t, "demoting the last admin", err, quietpager.Conflict)
		_, err = fx.store.SetRole(ctx, "bob", account.Member, "")
		wantCode(t, "a member without a person", err, quietpager.Invalid)
		_, err = fx.store.SetRole(ctx, "nobody", account.Viewer, "")
		wantCode(t, "an unknown user's role", err, quietpager.NotFound)

		u, err := fx.store.SetRole(ctx, "bob", account.Admin, "bob")
		if err != nil || u.Role != account.Admin || u.Person != "bob" {
			t.Fatalf("make bob admin: %+v, %v", u, err)
		}
		// The live session sees the new role at once.
		if s, err := fx.store.Session(ctx, token, t0); err != nil || s.User.Role != account.Admin {
			t.Errorf("bob's session after the role change: %+v, %v", s, err)
		}
		// With two admins, either may go; the second then may not.
		if _, err := fx.store.SetRole(ctx, "alice", account.Member, "alice"); err != nil {
			t.Fatalf("demote alice with bob admin: %v", err)
		}
		wantCode(t, "deleting the last admin", fx.store.DeleteUser(ctx, "bob"), quietpager.Conflict)
		if err := fx.store.DeleteUser(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestAuditOfKinds(t *testing.T) {
	eachDialect(t, func(t *testing.T, fx fixture) {
		ctx := context.Background()
		for i, e := range []account.AuditEntry{
			{Kind: "user", Object: "bob", Action: "added user bob"},
			{Kind: "rotation", Object: "payments-primary", Action: "moved a handoff"},
			{Kind: "token", Object: "am-eu1", Action: "created token am-eu1"},
		} {
			e.At, e.Actor = t0.Add(time.Duration(i)*time.Minute), "alice"
			if err := fx.store.Record(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		got, err := fx.store.AuditOfKinds(ctx, 10, "user", "token")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Object != "am-eu1" || got[1].Object != "bob" || got[0].Actor != "alice" {
			t.Errorf("audit of users and tokens: %+v, want the token's then bob's entry", got)
		}
		if got, _ := fx.store.AuditOfKinds(ctx, 1, "user", "token"); len(got) != 1 || got[0].Object != "am-eu1" {
			t.Errorf("limit 1: %+v", got)
		}
	})
}

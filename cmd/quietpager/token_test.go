package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quietpager/quietpager/ingest"
	"github.com/quietpager/quietpager/migrations"
	"github.com/quietpager/quietpager/migrations/migrationstest"
)

// TestTokenLifecycle creates, uses, lists and revokes tokens through the
// CLI while a server runs, on each dialect.
func TestTokenLifecycle(t *testing.T) {
	for _, d := range []migrations.Dialect{migrations.SQLite, migrations.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			dsn := migrationstest.DSN(t, d)

			out := mustRun(t, "token", "create", "--name", "alertmanager-eu1", "--db", dsn)
			secret := lastLine(out)
			if !strings.HasPrefix(secret, "qp_") || len(secret) < 40 || strings.ContainsAny(secret, " \t\"") {
				t.Fatalf("token create: last line %q is not a secret alone; stdout:\n%s", secret, out)
			}
			if n := strings.Count(out, secret); n != 1 {
				t.Errorf("token create printed the secret %d times, want once:\n%s", n, out)
			}
			other := createToken(t, dsn, "alertmanager-us1")
			if other == secret {
				t.Fatal("two tokens got the same secret")
			}

			s := startServer(t, dsn)
			body := webhookBody(t, firing(map[string]string{"alertname": "TokenTest"}))
			mustPostWebhook(t, s.URL, secret, body, http.StatusOK)
			mustPostWebhook(t, s.URL, other, body, http.StatusOK)
			mustPostWebhook(t, s.URL, "", body, http.StatusUnauthorized)
			mustPostWebhook(t, s.URL, secret+"x", body, http.StatusUnauthorized)
			if code := postBasicAuth(t, s.URL, secret, body); code != http.StatusOK {
				t.Errorf("webhook with the token as basic auth password answered %d, want 200", code)
			}

			// list shows names, never a secret or its hash.
			list := mustRun(t, "token", "list", "--db", dsn)
			for _, name := range []string{"alertmanager-eu1", "alertmanager-us1"} {
				if !strings.Contains(list, name) {
					t.Errorf("token list does not show %s:\n%s", name, list)
				}
			}
			for _, sec := range []string{secret, other} {
				if strings.Contains(list, sec) || strings.Contains(list, ingest.HashToken(sec)) ||
					strings.Contains(list, strings.TrimPrefix(sec, "qp_")) {
					t.Errorf("token list shows a secret or its hash:\n%s", list)
				}
			}

			// A second token of the same name is refused, and no secret is
			// printed for it.
			stdout, stderr, err := runCmd(t, noEnv, "token", "create", "--name", "alertmanager-eu1", "--db", dsn)
			if err == nil || !strings.Contains(err.Error(), "already exists") {
				t.Errorf("creating a duplicate token name: err %v, want one saying it already exists", err)
			}
			if strings.Contains(stdout, "qp_") {
				t.Errorf("a refused token create printed a secret:\n%s\n%s", stdout, stderr)
			}
			if _, _, err := runCmd(t, noEnv, "token", "create", "--db", dsn); err == nil {
				t.Error("token create without --name succeeded")
			}

			// Revoke (the database named by QUIETPAGER_DB, as an operator's
			// shell would have it): the running server refuses the token
			// within its cache TTL; the other token keeps working.
			stdout, stderr, err = runCmd(t, envFrom(map[string]string{"QUIETPAGER_DB": dsn}), "token", "revoke", "alertmanager-eu1")
			if err != nil {
				t.Fatalf("token revoke: %v\n%s%s", err, stdout, stderr)
			}
			revokedAt := time.Now()
			waitFor(t, tokenTTL+3*time.Second, "the revoked token to be refused", func() (bool, string) {
				code, resp, err := postWebhook(http.DefaultClient, s.URL, secret, body)
				if err != nil {
					return false, err.Error()
				}
				return code == http.StatusUnauthorized, resp
			})
			t.Logf("revoked token refused after %s", time.Since(revokedAt).Round(time.Millisecond))
			mustPostWebhook(t, s.URL, other, body, http.StatusOK)
			list = mustRun(t, "token", "list", "--db", dsn)
			if strings.Contains(list, "alertmanager-eu1") {
				t.Errorf("token list still shows the revoked token:\n%s", list)
			}

			// Revoking a token that does not exist (any more) is an error.
			if _, _, err := runCmd(t, noEnv, "token", "revoke", "--db", dsn, "alertmanager-eu1"); err == nil {
				t.Error("revoking an already revoked token succeeded")
			}
			if _, _, err := runCmd(t, noEnv, "token", "revoke", "--db", dsn, "no-such-token"); err == nil ||
				!strings.Contains(err.Error(), "no-such-token") {
				t.Errorf("revoking an unknown token: err %v, want one naming it", err)
			}
			if _, _, err := runCmd(t, noEnv, "token", "revoke", "--db", dsn); err == nil {
				t.Error("token revoke without a name succeeded")
			}
		})
	}
}

func postBasicAuth(t *testing.T, baseURL, secret string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, baseURL+"/hooks/alertmanager", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("alertmanager", secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

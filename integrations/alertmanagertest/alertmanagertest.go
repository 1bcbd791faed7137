// Package alertmanagertest starts the real Alertmanager binary for tests:
// as the sender of webhooks, and as the API that silences go to.
package alertmanagertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/quietpager/quietpager/integrations/internal/proctest"
)

// Missing says how to install Alertmanager.
const Missing = "alertmanager not on PATH; install with go install github.com/prometheus/alertmanager/cmd/alertmanager@v0.31.1"

// NullConfig routes every alert to a receiver that sends nothing.
const NullConfig = "route:\n  receiver: none\nreceivers:\n  - name: none\n"

// Binary finds the alertmanager binary on PATH. Without it the test fails
// when CI=true (CI installs it) and is skipped otherwise.
func Binary(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("alertmanager")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(Missing)
		}
		t.Skip(Missing)
	}
	return bin
}

// Start runs bin on a free loopback port, clustering off, with config as
// its alertmanager.yml and its own storage, waits until it is ready, and
// kills it when the test ends. It returns its base URL.
func Start(t testing.TB, bin, config string) string {
	t.Helper()
	url, _ := StartKillable(t, bin, config)
	return url
}

// StartKillable is Start that also returns a function killing Alertmanager
// before the test ends, for a test in which it dies.
func StartKillable(t testing.TB, bin, config string) (url string, kill func()) {
	t.Helper()
	dir := t.TempDir()
	configFile := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(configFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	storage := filepath.Join(dir, "data")
	if err := os.Mkdir(storage, 0o700); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", proctest.FreePort(t))
	cmd := exec.Command(bin,
		"--config.file="+configFile,
		"--storage.path="+storage,
		"--web.listen-address="+addr,
		"--cluster.listen-address=",
		"--log.level=debug",
	)
	url = "http://" + addr
	kill = proctest.Start(t, "alertmanager", cmd, func() bool { return ready(url) })
	return url, kill
}

func ready(url string) bool {
	resp, err := http.Get(url + "/-/ready")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Silence is a silence as Alertmanager's API v2 lists it.
type Silence struct {
	ID       string `json:"id"`
	Matchers []struct {
		Name    string `json:"name"`
		Value   string `json:"value"`
		IsRegex bool   `json:"isRegex"`
		IsEqual *bool  `json:"isEqual"`
	} `json:"matchers"`
	StartsAt  time.Time `json:"startsAt"`
	EndsAt    time.Time `json:"endsAt"`
	CreatedBy string    `json:"createdBy"`
	Comment   string    `json:"comment"`
	Status    struct {
		State string `json:"state"`
	} `json:"status"`
}

// MatcherMap returns the silence's equality matchers as a label map.
func (s Silence) MatcherMap() map[string]string {
	out := map[string]string{}
	for _, m := range s.Matchers {
		if !m.IsRegex && (m.IsEqual == nil || *m.IsEqual) {
			out[m.Name] = m.Value
		}
	}
	return out
}

// Silences reads every silence back through GET /api/v2/silences.
func Silences(url string) ([]Silence, error) {
	resp, err := http.Get(url + "/api/v2/silences")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/v2/silences: %s", resp.Status)
	}
	var out []Silence
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

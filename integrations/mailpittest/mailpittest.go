// Package mailpittest starts a real SMTP server, mailpit, for tests that
// send e-mail and read it back through mailpit's HTTP API.
package mailpittest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/quietpager/quietpager/integrations/internal/proctest"
)

// Missing says how to install mailpit.
const Missing = "mailpit not on PATH; install with go install github.com/axllent/mailpit@v1.33.1"

// Server is a running mailpit.
type Server struct {
	API      string // http://127.0.0.1:PORT
	SMTPPort int
}

// SMTPAddr is host:port of its SMTP listener.
func (s *Server) SMTPAddr() string { return fmt.Sprintf("127.0.0.1:%d", s.SMTPPort) }

// Start starts mailpit on free loopback ports with its own database and
// stops it when the test ends. Without mailpit on PATH it fails the test
// when CI=true (CI installs it) and otherwise returns false, so that the
// caller can skip or carry on without e-mail.
func Start(t testing.TB, extraArgs ...string) (*Server, bool) {
	t.Helper()
	bin, err := exec.LookPath("mailpit")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(Missing)
		}
		return nil, false
	}
	httpPort, smtpPort := proctest.FreePort(t), proctest.FreePort(t)
	s := &Server{API: fmt.Sprintf("http://127.0.0.1:%d", httpPort), SMTPPort: smtpPort}
	cmd := exec.Command(bin, append([]string{
		"--listen", fmt.Sprintf("127.0.0.1:%d", httpPort),
		"--smtp", s.SMTPAddr(),
		"--database", filepath.Join(t.TempDir(), "mailpit.db"),
		"--disable-version-check", "--smtp-disable-rdns", "--quiet",
	}, extraArgs...)...)
	// The HTTP API can be up a moment before SMTP: ready waits for both.
	proctest.Start(t, "mailpit", cmd, s.ready)
	return s, true
}

func (s *Server) ready() bool {
	resp, err := http.Get(s.API + "/api/v1/info")
	if err != nil {
		return false
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false
	}
	c, err := net.Dial("tcp", s.SMTPAddr())
	if err != nil {
		return false
	}
	c.Close()
	return true
}

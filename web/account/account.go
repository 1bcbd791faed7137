// Package account holds the web UI's people: local users with a role,
// their login sessions, the audit log of what they changed, and the secret
// addresses of calendar feeds. Storage lives in account/sqlstore; the web
// package checks roles with MayEdit.
package account

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/rotation"
)

// Role is what a user may do.
type Role string

const (
	Admin  Role = "admin"  // everything
	Member Role = "member" // changes overrides, rotations and incidents of their own teams
	Viewer Role = "viewer" // reads
)

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if r == Admin || r == Member || r == Viewer {
		return r, nil
	}
	return "", quietpager.Errorf(quietpager.Invalid, "role must be admin, member or viewer, not %q", s)
}

// User is a person who can log in to the web UI.
type User struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	Role Role   `json:"role"`
	// Person is the user's name in oncall.yaml; a member's teams are the
	// teams whose members include it.
	Person  string    `json:"person"`
	Created time.Time `json:"created"`
}

// MayEdit says whether u may change what belongs to team: its rotations,
// their overrides, and its incidents.
func (u User) MayEdit(team rotation.Team) bool {
	switch u.Role {
	case Admin:
		return true
	case Member:
		return u.Person != "" && slices.Contains(team.Members, u.Person)
	}
	return false
}

// Session is a logged-in browser.
type Session struct {
	User    User
	CSRF    string // the token every form of this session must carry
	Expires time.Time
}

// MinPassword is the shortest password accepted.
const MinPassword = 10

// HashPassword hashes a new password with bcrypt.
func HashPassword(password string) (string, error) {
	if len(password) < MinPassword {
		return "", quietpager.Errorf(quietpager.Invalid, "a password needs at least %d characters", MinPassword)
	}
	if len(password) > 72 {
		return "", quietpager.Errorf(quietpager.Invalid, "a password may have at most 72 bytes (bcrypt's limit)")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// CheckPassword reports whether password matches hash.
func CheckPassword(hash, password string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// AuditEntry is one change a person made.
type AuditEntry struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Kind   string    `json:"kind"`   // rotation, override, incident, user, feed
	Object string    `json:"object"` // the rotation's name, the incident's id, ...
	Action string    `json:"action"`
	Detail string    `json:"detail"`
}

// FeedKind is what a calendar feed shows.
type FeedKind string

const (
	PersonFeed   FeedKind = "person"   // one person's shifts in every rotation
	RotationFeed FeedKind = "rotation" // every shift of one rotation
)

// Feed is a calendar feed's secret address, as listed (never its token).
type Feed struct {
	ID        int64     `json:"id"`
	Kind      FeedKind  `json:"kind"`
	Subject   string    `json:"subject"` // the person's or the rotation's name
	CreatedBy string    `json:"created_by"`
	Created   time.Time `json:"created"`
}

// LoginLimiter refuses logins after too many failures, per key (the
// client's address, and the user name tried), until the window has passed
// since the oldest counted failure. It lives in memory: each replica
// counts on its own (docs/web.md).
type LoginLimiter struct {
	Max    int
	Window time.Duration

	mu       sync.Mutex
	failures map[string][]time.Time
}

// Wait returns how long key must wait before trying again; 0 when it may
// try now.
func (l *LoginLimiter) Wait(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	recent := l.recent(key, now)
	if len(recent) < l.Max {
		return 0
	}
	return recent[0].Add(l.Window).Sub(now)
}

// Fail counts a failed login for key.
func (l *LoginLimiter) Fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failures == nil {
		l.failures = map[string][]time.Time{}
	}
	if len(l.failures) > 10000 { // a spray of names: drop what has expired
		for k := range l.failures {
			l.recent(k, now)
		}
	}
	l.failures[key] = append(l.recent(key, now), now)
}

// Reset forgets key's failures after a successful login.
func (l *LoginLimiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failures, key)
}

func (l *LoginLimiter) recent(key string, now time.Time) []time.Time {
	list := l.failures[key]
	i := 0
	for i < len(list) && !list[i].Add(l.Window).After(now) {
		i++
	}
	if i == len(list) {
		delete(l.failures, key)
		return nil
	}
	return list[i:]
}

// Access says what u may do, for messages and the audit log: "role member,
// person bob".
func (u User) Access() string {
	if u.Person == "" {
		return "role " + string(u.Role)
	}
	return "role " + string(u.Role) + ", person " + u.Person
}

// CheckPerson refuses a person that cfg, the applied on-call
// configuration, does not know: a typo would leave a member silently
// unable to change anything. "" (no person) passes, and so does anything
// while no configuration is applied yet: users may be set up first.
func CheckPerson(cfg rotation.Config, person string) error {
	if person == "" || len(cfg.People) == 0 {
		return nil
	}
	names := make([]string, 0, len(cfg.People))
	for _, p := range cfg.People {
		if p.Name == person {
			return nil
		}
		names = append(names, p.Name)
	}
	return quietpager.Errorf(quietpager.Invalid, "%q is not a person in the applied on-call configuration (people: %s)",
		person, strings.Join(names, ", "))
}

package ingest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"sync"
	"time"

	"github.com/quietpager/quietpager"
)

// tokenPrefix marks quietpager tokens so that secret scanners can find a
// leaked one.
const tokenPrefix = "qp_"

// NewToken returns a new random token and the hash to store for it.
func NewToken() (secret, hash string) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	secret = tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return secret, HashToken(secret)
}

// HashToken is the stored form of a token. Tokens carry 256 random bits, so
// a fast hash is enough: there is nothing to brute-force, and a slow one
// would cost every webhook.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Token is a webhook or API token as listed: its name and when it was
// made, never its secret.
type Token struct {
	Name    string
	Created time.Time
}

// TokenStore lists the hashes of live tokens.
type TokenStore interface {
	// TokenHashes maps each live token's hash to its name.
	TokenHashes(ctx context.Context) (map[string]string, error)
}

// Authenticator checks tokens against a copy of the token table that it
// reloads when older than TTL. The webhook path then costs no query, a
// flood of wrong tokens costs none either, and a revoked token stops
// working within TTL.
type Authenticator struct {
	Store TokenStore
	TTL   time.Duration
	Now   func() time.Time

	mu       sync.Mutex
	hashes   map[string]string
	loadedAt time.Time
	loading  bool // a reload is under way
}

// Authenticate returns the name of the token, or an Unauthorized error.
func (a *Authenticator) Authenticate(ctx context.Context, secret string) (string, error) {
	if secret == "" {
		return "", quietpager.Errorf(quietpager.Unauthorized, "missing token: send Authorization: Bearer TOKEN")
	}
	hashes, err := a.current(ctx)
	if err != nil {
		return "", err
	}
	// The lookup is not constant-time, but it is keyed by a hash of the
	// secret, so its timing reveals nothing usable about the secret.
	name, ok := hashes[HashToken(secret)]
	if !ok {
		return "", quietpager.Errorf(quietpager.Unauthorized, "unknown or revoked token")
	}
	return name, nil
}

// reloadTimeout bounds a reload of the token table, and reloadRetry is how
// soon a failed reload is tried again: a database that hangs or is down
// must cost webhooks neither their answer nor a query each.
const (
	reloadTimeout = 2 * time.Second
	reloadRetry   = time.Second
)

func (a *Authenticator) current(ctx context.Context) (map[string]string, error) {
	a.mu.Lock()
	now := a.Now()
	cached := a.hashes
	if cached != nil && (a.loading || now.Sub(a.loadedAt) < a.TTL) {
		// Fresh, or another request is reloading: use the copy we have.
		a.mu.Unlock()
		return cached, nil
	}
	a.loading = true
	a.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, reloadTimeout)
	hashes, err := a.Store.TokenHashes(ctx)
	cancel()

	a.mu.Lock()
	defer a.mu.Unlock()
	a.loading = false
	if err != nil {
		if a.hashes != nil {
			// Keep accepting known tokens while the database is away, so
			// the webhook answers 503 from the write, not 401 here.
			a.loadedAt = now.Add(reloadRetry - a.TTL)
			return a.hashes, nil
		}
		return nil, quietpager.Wrap(quietpager.Unavailable, err, "could not read tokens")
	}
	a.hashes, a.loadedAt = hashes, now
	return hashes, nil
}

package sqlstore

import "time"

// SetClock makes s read the time from now: which overrides have ended
// depends on it.
func SetClock(s *Store, now func() time.Time) { s.now = now }

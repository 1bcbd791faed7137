package reports

import (
	"context"
	"time"

	"github.com/quietpager/quietpager"
)

// Rhythm is when a team's pages were sent over a window, by hour of the
// day and by day of the week on the clock of the team's zone: the shape a
// team lead looks at to see whether the alerts keep the on-call person up
// at night or cluster around a daily job.
type Rhythm struct {
	Team     string    `json:"team"`
	TimeZone string    `json:"time_zone"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Pages    int       `json:"pages"`
	// ByHour[h] counts the pages sent between h:00 and h:59 local time.
	// On the night clocks go back, the repeated hour counts twice into
	// the same bar; on the night they go forward, the skipped hour has
	// none.
	ByHour [24]int `json:"by_hour"`
	// ByWeekday counts the pages by local day of the week, Monday first
	// (ISO 8601, as the weekly report's weeks).
	ByWeekday [7]int `json:"by_weekday"`
}

// Rhythm counts the team's pages over [since, until) by local hour and
// weekday in the team's zone. Pages are the weekly report's: every
// notification sent, over every channel.
func (s *Service) Rhythm(ctx context.Context, team string, since, until time.Time) (Rhythm, error) {
	if !until.After(since) {
		return Rhythm{}, quietpager.Errorf(quietpager.Invalid, "since must be before until")
	}
	if until.Sub(since) > maxWindow {
		return Rhythm{}, quietpager.Errorf(quietpager.Invalid, "a window may span at most %d days", maxWindow/(24*time.Hour))
	}
	st, err := s.setting(ctx, team)
	if err != nil {
		return Rhythm{}, err
	}
	h, err := s.o.History.History(ctx, Query{Team: team, From: since, To: until})
	if err != nil {
		return Rhythm{}, err
	}
	r := CountRhythm(h.Pages, zoneOrUTC(st.team.TimeZone))
	r.Team, r.From, r.To = team, since, until
	return r, nil
}

// CountRhythm counts pages by hour and weekday on loc's clock.
func CountRhythm(pages []Page, loc *time.Location) Rhythm {
	loc = zoneOrUTC(loc)
	r := Rhythm{TimeZone: loc.String()}
	for _, p := range pages {
		lt := p.At.In(loc)
		r.ByHour[lt.Hour()]++
		r.ByWeekday[(int(lt.Weekday())+6)%7]++
		r.Pages++
	}
	return r
}

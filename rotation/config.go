package rotation

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones work on hosts and images without a zoneinfo database

	"github.com/prometheus/alertmanager/pkg/labels"
	"gopkg.in/yaml.v3"

	"github.com/quietpager/quietpager"
	"github.com/quietpager/quietpager/flap"
)

// ParseConfig reads the on-call configuration file that `quietpager apply`
// takes (docs/configuration.md, docs/examples/oncall.yaml).
//
// It checks everything it can without a database: unknown keys (a typo
// must not silently drop a setting), names and references, time zones,
// shifts, matchers, urgencies, flap thresholds, the route order and
// heartbeats. Every
// problem found is reported, one per line as "FILE:LINE: message", in one
// quietpager.Invalid error; a file with any problem yields no Config at
// all, so nobody applies half a rota.
func ParseConfig(data []byte, filename string) (Config, error) {
	p := &configParser{file: filename}
	cfg := p.parse(data)
	if len(p.problems) > 0 {
		return Config{}, p.err()
	}
	return cfg, nil
}

// ParseShift parses a shift length: "1d", "7d", "1w", "2w" are whole
// calendar days (Days), so handoffs keep their local time of day across
// daylight saving changes; anything Go's time.ParseDuration reads ("12h",
// "90m", "8h30m") is a fixed Duration. Zero and negative shifts are
// refused.
func ParseShift(s string) (Shift, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Shift{}, errors.New("a shift length is required (1d, 1w, 12h…)")
	}
	if unit := s[len(s)-1]; unit == 'd' || unit == 'w' {
		n, err := strconv.Atoi(s[:len(s)-1])
		if err != nil {
			return Shift{}, fmt.Errorf("invalid shift %q: want whole days or weeks (1d, 7d, 1w, 2w) or a duration (12h, 90m)", s)
		}
		if n <= 0 {
			return Shift{}, fmt.Errorf("invalid shift %q: a shift must be longer than zero", s)
		}
		if unit == 'w' {
			n *= 7
		}
		if n > 366 {
			return Shift{}, fmt.Errorf("invalid shift %q: longer than a year", s)
		}
		return Shift{Days: n}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return Shift{}, fmt.Errorf("invalid shift %q: want whole days or weeks (1d, 7d, 1w, 2w) or a duration (12h, 90m)", s)
	}
	if d <= 0 {
		return Shift{}, fmt.Errorf("invalid shift %q: a shift must be longer than zero", s)
	}
	if d < time.Minute {
		return Shift{}, fmt.Errorf("invalid shift %q: shorter than a minute", s)
	}
	return Shift{Duration: d}, nil
}

// String writes s as ParseShift reads it: 1w, 2d, 12h, 90m.
func (s Shift) String() string {
	switch {
	case s.Days > 0 && s.Days%7 == 0:
		return strconv.Itoa(s.Days/7) + "w"
	case s.Days > 0:
		return strconv.Itoa(s.Days) + "d"
	case s.Duration%time.Hour == 0:
		return fmt.Sprintf("%dh", s.Duration/time.Hour)
	case s.Duration%time.Minute == 0:
		return fmt.Sprintf("%dm", s.Duration/time.Minute)
	default:
		return s.Duration.String()
	}
}

// configStartLayouts are the accepted forms of a rotation's start: a local
// wall-clock time, without an offset (the rotation's time_zone gives it).
var configStartLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02 15:04:05", "2006-01-02"}

var (
	configLabelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	configSlackUser = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)
	configYAMLLine  = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
)

// configProblem is one thing wrong with the file.
type configProblem struct {
	line int
	msg  string
}

// configParser walks the YAML node tree, so that every problem can name
// its line, and collects every problem instead of stopping at the first.
type configParser struct {
	file     string
	problems []configProblem
	// keyLine is the line of the key of each mapping or list value: a
	// problem with a whole block belongs on its "key:" line, not on the
	// block's first line below it.
	keyLine map[*yaml.Node]int
}

func (p *configParser) errorf(n *yaml.Node, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
		if l, ok := p.keyLine[n]; ok && n.Kind != yaml.ScalarNode {
			line = l
		}
	}
	p.problems = append(p.problems, configProblem{line, fmt.Sprintf(format, args...)})
}

func (p *configParser) err() error {
	sort.SliceStable(p.problems, func(i, j int) bool { return p.problems[i].line < p.problems[j].line })
	lines := make([]string, 0, len(p.problems))
	seen := map[string]bool{}
	for _, pr := range p.problems {
		l := fmt.Sprintf("%s:%d: %s", p.file, pr.line, pr.msg)
		if pr.line == 0 {
			l = fmt.Sprintf("%s: %s", p.file, pr.msg)
		}
		if !seen[l] {
			seen[l] = true
			lines = append(lines, l)
		}
	}
	return &quietpager.Error{Code: quietpager.Invalid, Message: strings.Join(lines, "\n")}
}

// named remembers where a name was defined and where it is used.
type configNamed struct {
	node *yaml.Node // the name's value node
}

// configRef is a use of a name that must exist.
type configRef struct {
	kind string // "person", "team", "rotation"
	name string
	node *yaml.Node
	what string // who refers, for the message: `team "payments"`
}

// configState is what the first pass found, for the cross-checks.
type configState struct {
	people, teams, rotations, routes, escalation, heartbeats map[string]configNamed
	refs                                                     []configRef
	// routesNode is the routes list, for problems with the list as a whole.
	routesNode *yaml.Node
	// pagingRoutes are routes that page (not digest), by team, to check
	// that the team has someone to page.
	pagingRoutes []configRef
	// teamZones are the teams' time zones, the default of their rotations.
	teamZones map[string]*time.Location
	// rotationsWithoutZone wait for their team's zone.
	rotationsWithoutZone []int
	rotationStarts       []configStart
}

// configStart is a rotation's start, resolved once its zone is known.
type configStart struct {
	index int
	node  *yaml.Node
	wall  time.Time // the wall-clock time, in UTC as a carrier
}

func (p *configParser) parse(data []byte) Config {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.errorf(nil, "the file is empty")
		} else {
			p.yamlError(err)
		}
		return Config{}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.errorf(&extra, "a second YAML document (---); put everything in one")
	} else if !errors.Is(err, io.EOF) {
		p.yamlError(err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			p.errorf(nil, "the file is empty")
			return Config{}
		}
		root = root.Content[0]
	}
	st := &configState{
		people: map[string]configNamed{}, teams: map[string]configNamed{}, rotations: map[string]configNamed{},
		routes: map[string]configNamed{}, escalation: map[string]configNamed{}, heartbeats: map[string]configNamed{},
		teamZones: map[string]*time.Location{},
	}
	var cfg Config
	top := p.mapping(root, "the configuration", "people", "teams", "rotations", "escalation", "routes", "heartbeats")
	if top == nil {
		return Config{}
	}
	for _, n := range p.list(top["people"], "people") {
		person, _ := p.person(n, st)
		cfg.People = append(cfg.People, person)
	}
	for _, n := range p.list(top["teams"], "teams") {
		team, _ := p.team(n, st)
		cfg.Teams = append(cfg.Teams, team)
	}
	for _, n := range p.list(top["rotations"], "rotations") {
		// Every item is kept, even a broken one (any problem discards the
		// whole Config), so that indexes into cfg.Rotations stay right.
		r, _ := p.rotation(n, st, len(cfg.Rotations))
		cfg.Rotations = append(cfg.Rotations, r)
	}
	for _, n := range p.list(top["escalation"], "escalation") {
		e, _ := p.escalation(n, st)
		cfg.Escalation = append(cfg.Escalation, e)
	}
	if n := top["routes"]; n == nil {
		p.errorf(root, "no routes: at least a default route (`default: true`) is needed, or no alert reaches anyone")
	} else {
		st.routesNode = n
		cfg.Routes = p.routes(n, st)
	}
	for _, n := range p.list(top["heartbeats"], "heartbeats") {
		h, _ := p.heartbeat(n, st)
		cfg.Heartbeats = append(cfg.Heartbeats, h)
	}
	p.resolve(&cfg, st)
	return cfg
}

// yamlError turns a YAML syntax error into FILE:LINE problems.
func (p *configParser) yamlError(err error) {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, m := range msgs {
		if sub := configYAMLLine.FindStringSubmatch(m); sub != nil {
			line, _ := strconv.Atoi(sub[1])
			p.problems = append(p.problems, configProblem{line, sub[2]})
			continue
		}
		p.problems = append(p.problems, configProblem{0, strings.TrimPrefix(m, "yaml: ")})
	}
}

// resolve checks references, fills rotations' default time zones and
// turns their local start times into instants.
func (p *configParser) resolve(cfg *Config, st *configState) {
	for _, i := range st.rotationsWithoutZone {
		// nil when the team is unknown or its zone is wrong, said already.
		cfg.Rotations[i].TimeZone = st.teamZones[cfg.Rotations[i].Team]
	}
	for _, s := range st.rotationStarts {
		r := &cfg.Rotations[s.index]
		if r.TimeZone == nil {
			continue // the team's zone is wrong or the team is unknown; said already
		}
		t, ok := ExactWall(s.wall, r.TimeZone)
		if !ok {
			p.errorf(s.node, "rotation %q starts at %s, a time that does not exist in %s (the clocks skip it for daylight saving); pick another hour",
				r.Name, s.wall.Format("2006-01-02 15:04"), r.TimeZone)
			continue
		}
		r.Start = t
	}
	sets := map[string]map[string]configNamed{"person": st.people, "team": st.teams, "rotation": st.rotations}
	for _, ref := range st.refs {
		if _, ok := sets[ref.kind][ref.name]; !ok {
			p.errorf(ref.node, "%s: unknown %s %q%s", ref.what, ref.kind, ref.name, p.suggest(ref.name, configKeys(sets[ref.kind])))
		}
	}
	for _, ref := range st.pagingRoutes {
		if _, ok := st.teams[ref.name]; !ok {
			continue // unknown team, said above
		}
		if _, ok := st.escalation[ref.name]; !ok {
			p.errorf(ref.node, "%s pages team %q, which has no escalation policy: nobody would be paged (add one under escalation, or use urgency: digest)",
				ref.what, ref.name)
		}
	}
}

func configKeys(m map[string]configNamed) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (p *configParser) person(n *yaml.Node, st *configState) (Person, bool) {
	m := p.mapping(n, p.label(n, "person"), "name", "email", "slack_id", "time_zone")
	if m == nil {
		return Person{}, false
	}
	var person Person
	var ok bool
	person.Name, ok = p.name(m, n, "person", st.people)
	what := fmt.Sprintf("person %q", person.Name)
	if e := m["email"]; e != nil {
		person.Email = p.str(e)
		if a, err := mail.ParseAddress(person.Email); err != nil || a.Address != person.Email {
			p.errorf(e, "%s: invalid email %q: want a bare address such as alice@example.com", what, person.Email)
			ok = false
		}
	}
	if s := m["slack_id"]; s != nil {
		person.SlackID = p.str(s)
		if !configSlackUser.MatchString(person.SlackID) {
			p.errorf(s, "%s: invalid slack_id %q: want the member ID (U01ABCDEF; in Slack: profile, ⋮, Copy member ID), not a handle", what, person.SlackID)
			ok = false
		}
	}
	if person.Email == "" && person.SlackID == "" && m["email"] == nil && m["slack_id"] == nil {
		p.errorf(n, "%s has neither email nor slack_id: quietpager could not reach them", what)
		ok = false
	}
	var zok bool
	person.TimeZone, zok = p.zone(m, n, what, true)
	return person, ok && zok
}

func (p *configParser) team(n *yaml.Node, st *configState) (Team, bool) {
	m := p.mapping(n, p.label(n, "team"), "name", "time_zone", "slack_channel", "webhook", "members")
	if m == nil {
		return Team{}, false
	}
	var team Team
	var ok bool
	team.Name, ok = p.name(m, n, "team", st.teams)
	what := fmt.Sprintf("team %q", team.Name)
	var zok bool
	team.TimeZone, zok = p.zone(m, n, what, true)
	ok = ok && zok
	if ok {
		st.teamZones[team.Name] = team.TimeZone
	}
	if c := m["slack_channel"]; c != nil {
		team.SlackChannel = p.str(c)
		if team.SlackChannel == "" || strings.ContainsAny(team.SlackChannel, " \t\n") {
			p.errorf(c, "%s: invalid slack_channel %q: want a channel ID (C01ABCDEF) or #name", what, team.SlackChannel)
			ok = false
		}
	}
	if w := m["webhook"]; w != nil {
		wm := p.mapping(w, what+": webhook", "url", "secret")
		if wm == nil {
			ok = false
		} else {
			if u := wm["url"]; u == nil {
				p.errorf(w, "%s: webhook needs a url", what)
				ok = false
			} else {
				team.WebhookURL = p.str(u)
				pu, err := url.Parse(team.WebhookURL)
				if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" {
					p.errorf(u, "%s: invalid webhook url %q: want an http:// or https:// URL", what, team.WebhookURL)
					ok = false
				}
			}
			if s := wm["secret"]; s == nil || p.str(s) == "" {
				p.errorf(w, "%s: webhook needs a secret (pages are signed with it, so the receiver can tell them from forgeries)", what)
				ok = false
			} else {
				team.WebhookSecret = p.str(s)
			}
		}
	}
	team.Members = p.members(m["members"], what, st, false)
	return team, ok
}

// members reads a list of people's names, recording each as a reference.
func (p *configParser) members(n *yaml.Node, what string, st *configState, repeats bool) []string {
	if n == nil {
		return nil
	}
	var out []string
	seen := map[string]*yaml.Node{}
	for _, item := range p.list(n, what+": members") {
		name := p.str(item)
		if name == "" {
			p.errorf(item, "%s: a member without a name", what)
			continue
		}
		if first, dup := seen[name]; dup && !repeats {
			p.errorf(item, "%s: %q is listed twice (first at line %d)", what, name, first.Line)
			continue
		}
		seen[name] = item
		st.refs = append(st.refs, configRef{"person", name, item, what})
		out = append(out, name)
	}
	return out
}

func (p *configParser) rotation(n *yaml.Node, st *configState, index int) (Rotation, bool) {
	m := p.mapping(n, p.label(n, "rotation"), "name", "team", "members", "shift", "start", "time_zone")
	if m == nil {
		return Rotation{}, false
	}
	var r Rotation
	var ok bool
	r.Name, ok = p.name(m, n, "rotation", st.rotations)
	what := fmt.Sprintf("rotation %q", r.Name)
	if t := m["team"]; t == nil || p.str(t) == "" {
		p.errorf(n, "%s needs a team", what)
		ok = false
	} else {
		r.Team = p.str(t)
		st.refs = append(st.refs, configRef{"team", r.Team, t, what})
	}
	r.Members = p.members(m["members"], what, st, true)
	if len(r.Members) == 0 {
		at := m["members"]
		if at == nil {
			at = n
		}
		p.errorf(at, "%s has no members: nobody would be on call", what)
		ok = false
	}
	if s := m["shift"]; s == nil {
		p.errorf(n, "%s needs a shift (1d, 1w, 12h…)", what)
		ok = false
	} else if shift, err := ParseShift(p.str(s)); err != nil {
		p.errorf(s, "%s: %v", what, err)
		ok = false
	} else {
		r.Shift = shift
	}
	zoneGiven := m["time_zone"] != nil
	if zoneGiven {
		var zok bool
		r.TimeZone, zok = p.zone(m, n, what, true)
		ok = ok && zok
	}
	if s := m["start"]; s == nil {
		p.errorf(n, "%s needs a start: the first handoff, local time (2026-11-02T09:00)", what)
		ok = false
	} else {
		text := p.str(s)
		var wall time.Time
		var err error
		for _, layout := range configStartLayouts {
			if wall, err = time.Parse(layout, text); err == nil {
				break
			}
		}
		if err != nil {
			p.errorf(s, "%s: invalid start %q: want a local time such as 2026-11-02T09:00 (no offset: time_zone says where)", what, text)
			ok = false
		} else {
			st.rotationStarts = append(st.rotationStarts, configStart{index, s, wall})
		}
	}
	if !zoneGiven {
		st.rotationsWithoutZone = append(st.rotationsWithoutZone, index)
	}
	return r, ok
}

func (p *configParser) escalation(n *yaml.Node, st *configState) (EscalationPolicy, bool) {
	m := p.mapping(n, "an escalation policy", "team", "steps", "repeat")
	if m == nil {
		return EscalationPolicy{}, false
	}
	var e EscalationPolicy
	ok := true
	t := m["team"]
	if t == nil || p.str(t) == "" {
		p.errorf(n, "an escalation policy needs a team")
		return e, false
	}
	e.Team = p.str(t)
	what := fmt.Sprintf("escalation of team %q", e.Team)
	if first, dup := st.escalation[e.Team]; dup {
		p.errorf(t, "team %q has a second escalation policy (first at line %d)", e.Team, first.node.Line)
		ok = false
	} else {
		st.escalation[e.Team] = configNamed{t}
	}
	st.refs = append(st.refs, configRef{"team", e.Team, t, "escalation"})
	steps := p.list(m["steps"], what+": steps")
	if len(steps) == 0 {
		at := m["steps"]
		if at == nil {
			at = n
		}
		p.errorf(at, "%s has no steps: nobody would be paged", what)
		ok = false
	}
	for i, sn := range steps {
		sm := p.mapping(sn, fmt.Sprintf("%s, step %d", what, i+1), "delay", "rotation", "person")
		if sm == nil {
			ok = false
			continue
		}
		stepWhat := fmt.Sprintf("%s, step %d", what, i+1)
		var step Step
		if d := sm["delay"]; d == nil {
			p.errorf(sn, "%s needs a delay (0m for at once)", stepWhat)
			ok = false
		} else if step.Delay, ok = p.duration(d, stepWhat+": delay", ok); step.Delay < 0 {
			p.errorf(d, "%s: delay must not be negative", stepWhat)
			ok = false
		}
		if r := sm["rotation"]; r != nil {
			name := p.str(r)
			st.refs = append(st.refs, configRef{"rotation", name, r, stepWhat})
			step.Targets = append(step.Targets, Target{Rotation: name})
		}
		if pn := sm["person"]; pn != nil {
			name := p.str(pn)
			st.refs = append(st.refs, configRef{"person", name, pn, stepWhat})
			step.Targets = append(step.Targets, Target{Person: name})
		}
		if len(step.Targets) == 0 {
			p.errorf(sn, "%s pages nobody: give it a rotation or a person", stepWhat)
			ok = false
		}
		e.Steps = append(e.Steps, step)
	}
	if r := m["repeat"]; r != nil {
		v, err := strconv.Atoi(p.str(r))
		if err != nil || v < 0 {
			p.errorf(r, "%s: repeat must be a whole number, 0 or more (how many more times to run the steps)", what)
			ok = false
		}
		e.Repeat = v
	}
	return e, ok
}

func (p *configParser) routes(n *yaml.Node, st *configState) []Route {
	items := p.list(n, "routes")
	var out []Route
	defaults := 0
	for i, rn := range items {
		m := p.mapping(rn, p.label(rn, "route"), "name", "matchers", "team", "urgency", "group_by", "reopen_window", "flap", "default")
		if m == nil {
			continue
		}
		var r Route
		var ok bool
		r.Name, ok = p.name(m, rn, "route", st.routes)
		what := fmt.Sprintf("route %q", r.Name)
		if d := m["default"]; d != nil {
			v, err := strconv.ParseBool(p.str(d))
			if err != nil || d.Tag == "!!str" {
				p.errorf(d, "%s: default must be true or false", what)
				ok = false
			}
			r.Default = v
		}
		if r.Default {
			defaults++
			if defaults > 1 {
				p.errorf(m["default"], "%s: a second default route; exactly one route has `default: true`", what)
				ok = false
			} else if i != len(items)-1 {
				p.errorf(m["default"], "%s is the default route but not the last: the routes after it would never match; move it to the end", what)
				ok = false
			}
		}
		if mn := m["matchers"]; mn != nil {
			var mok bool
			r.Matchers, mok = p.matchers(mn, what)
			ok = ok && mok
		}
		switch {
		case r.Default && len(r.Matchers) > 0:
			p.errorf(m["matchers"], "%s: the default route takes every alert no other route took; it has no matchers", what)
			ok = false
		case !r.Default && m["matchers"] == nil:
			p.errorf(rn, "%s has no matchers, so it would take every alert; give it matchers, or make it the default route (`default: true`, last)", what)
			ok = false
		}
		if t := m["team"]; t == nil || p.str(t) == "" {
			p.errorf(rn, "%s needs a team", what)
			ok = false
		} else {
			r.Team = p.str(t)
			st.refs = append(st.refs, configRef{"team", r.Team, t, what})
		}
		if u := m["urgency"]; u == nil {
			p.errorf(rn, "%s needs an urgency: page, business-hours or digest", what)
			ok = false
		} else {
			switch r.Urgency = Urgency(p.str(u)); r.Urgency {
			case UrgencyPage, UrgencyBusinessHours:
				if r.Team != "" {
					st.pagingRoutes = append(st.pagingRoutes, configRef{"team", r.Team, m["team"], what})
				}
			case UrgencyDigest:
			default:
				p.errorf(u, "%s: unknown urgency %q: want page, business-hours or digest", what, r.Urgency)
				ok = false
			}
		}
		if g := m["group_by"]; g != nil {
			seen := map[string]bool{}
			for _, item := range p.list(g, what+": group_by") {
				l := p.str(item)
				switch {
				case !configLabelName.MatchString(l):
					p.errorf(item, "%s: group_by: %q is not a label name", what, l)
					ok = false
				case seen[l]:
					p.errorf(item, "%s: group_by: %q is listed twice", what, l)
					ok = false
				default:
					seen[l] = true
					r.GroupBy = append(r.GroupBy, l)
				}
			}
		}
		if w := m["reopen_window"]; w != nil {
			if r.ReopenWindow, ok = p.duration(w, what+": reopen_window", ok); r.ReopenWindow < 0 {
				p.errorf(w, "%s: reopen_window must not be negative", what)
				ok = false
			}
		}
		if f := m["flap"]; f != nil {
			r.Flap, ok = p.flap(f, what, ok)
		}
		out = append(out, r)
	}
	if len(items) == 0 {
		p.errorf(n, "no routes: at least a default route (`default: true`) is needed, or no alert reaches anyone")
	} else if defaults == 0 {
		p.errorf(n, "no default route: the last route needs `default: true`, so that an alert no route matches still reaches a team")
	}
	return out
}

// matchers reads a list of matchers in Alertmanager syntax.
func (p *configParser) matchers(n *yaml.Node, what string) ([]*labels.Matcher, bool) {
	var out []*labels.Matcher
	ok := true
	for _, item := range p.list(n, what+": matchers") {
		text := p.str(item)
		ms, err := labels.ParseMatchers(text)
		if err == nil && len(ms) == 0 {
			err = errors.New("empty matcher")
		}
		if err != nil {
			p.errorf(item, "%s: bad matcher %s: %v (want Alertmanager syntax: severity=\"critical\", team=~\"db.*\")", what, strconv.Quote(text), err)
			ok = false
			continue
		}
		out = append(out, ms...)
	}
	return out, ok
}

func (p *configParser) heartbeat(n *yaml.Node, st *configState) (Heartbeat, bool) {
	m := p.mapping(n, p.label(n, "heartbeat"), "name", "matchers", "interval", "labels")
	if m == nil {
		return Heartbeat{}, false
	}
	var h Heartbeat
	var ok bool
	h.Name, ok = p.name(m, n, "heartbeat", st.heartbeats)
	what := fmt.Sprintf("heartbeat %q", h.Name)
	if mn := m["matchers"]; mn == nil {
		p.errorf(n, "%s needs matchers naming the alert that must keep arriving: ['alertname=\"Watchdog\"']", what)
		ok = false
	} else {
		var mok bool
		h.Matchers, mok = p.matchers(mn, what)
		switch name := h.Alertname(); {
		case !mok:
			ok = false
		case name == "":
			p.errorf(mn, "%s: the matchers must pin the alert's name with =, such as 'alertname=\"Watchdog\"' (a heartbeat is one alert rule)", what)
			ok = false
		case name == HeartbeatAlertname:
			p.errorf(mn, "%s: %s is the alert quietpager raises when a heartbeat stops; it cannot be a heartbeat itself", what, HeartbeatAlertname)
			ok = false
		}
	}
	if i := m["interval"]; i == nil {
		p.errorf(n, "%s needs an interval: how long without the alert before paging (5m, say)", what)
		ok = false
	} else if d, dok := p.duration(i, what+": interval", true); !dok {
		ok = false
	} else if h.Interval = d; d < MinHeartbeatInterval {
		p.errorf(i, "%s: interval %s is shorter than 1m: Alertmanager's own group and repeat delays would page", what, p.str(i))
		ok = false
	}
	if ln := m["labels"]; ln != nil {
		var lok bool
		h.Labels, lok = p.labels(ln, what)
		ok = ok && lok
	}
	return h, ok
}

// labels reads a mapping of label names to values.
func (p *configParser) labels(n *yaml.Node, what string) (map[string]string, bool) {
	n = configDeref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		p.errorf(n, "%s: labels: want a mapping (name: value), not a %s", what, configKind(n))
		return nil, false
	}
	out := map[string]string{}
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := configDeref(n.Content[i]), configDeref(n.Content[i+1])
		name := p.str(k)
		switch {
		case !configLabelName.MatchString(name):
			p.errorf(k, "%s: labels: %q is not a label name", what, name)
			ok = false
			continue
		case name == "alertname" || name == HeartbeatLabel:
			p.errorf(k, "%s: labels: quietpager sets %s itself", what, name)
			ok = false
			continue
		}
		if _, dup := out[name]; dup {
			p.errorf(k, "%s: labels: %s is set twice", what, name)
			ok = false
			continue
		}
		if v.Kind != yaml.ScalarNode || p.str(v) == "" {
			p.errorf(v, "%s: labels: %s needs a value", what, name)
			ok = false
			continue
		}
		out[name] = p.str(v)
	}
	return out, ok
}

func (p *configParser) flap(n *yaml.Node, what string, ok bool) (flap.Options, bool) {
	m := p.mapping(n, what+": flap", "tau", "high", "low", "quiet")
	if m == nil {
		return flap.Options{}, false
	}
	var o flap.Options
	for _, k := range []string{"tau", "high", "low", "quiet"} {
		if m[k] == nil {
			p.errorf(n, "%s: flap needs tau, high, low and quiet (defaults: 1h, 6, 2, 15m); %s is missing", what, k)
			return o, false
		}
	}
	o.Tau, ok = p.duration(m["tau"], what+": flap tau", ok)
	o.Quiet, ok = p.duration(m["quiet"], what+": flap quiet", ok)
	o.High, ok = p.float(m["high"], what+": flap high", ok)
	o.Low, ok = p.float(m["low"], what+": flap low", ok)
	if !ok {
		return o, false
	}
	if !o.Valid() {
		p.errorf(n, "%s: invalid flap thresholds (tau %s, high %g, low %g): want tau > 0 and 0 < low < high", what, o.Tau, o.High, o.Low)
		return o, false
	}
	if o.Quiet < 0 {
		p.errorf(m["quiet"], "%s: flap quiet must not be negative", what)
		return o, false
	}
	return o, true
}

// name reads a mapping's required, unique name.
func (p *configParser) name(m map[string]*yaml.Node, n *yaml.Node, kind string, seen map[string]configNamed) (string, bool) {
	v := m["name"]
	if v == nil || p.str(v) == "" {
		p.errorf(n, "a %s needs a name", kind)
		return "", false
	}
	name := p.str(v)
	if strings.TrimSpace(name) != name || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' }) {
		p.errorf(v, "%s name %q has leading or trailing spaces or control characters", kind, name)
		return name, false
	}
	if first, dup := seen[name]; dup {
		p.errorf(v, "duplicate %s %q (first at line %d)", kind, name, first.node.Line)
		return name, false
	}
	seen[name] = configNamed{v}
	return name, true
}

// zone reads a mapping's time_zone.
func (p *configParser) zone(m map[string]*yaml.Node, n *yaml.Node, what string, required bool) (*time.Location, bool) {
	v := m["time_zone"]
	if v == nil {
		if required {
			p.errorf(n, "%s needs a time_zone (an IANA name such as Europe/Berlin)", what)
			return nil, false
		}
		return nil, true
	}
	loc, err := LoadZone(p.str(v))
	if err != nil {
		p.errorf(v, "%s: %v", what, err)
		return nil, false
	}
	return loc, true
}

// LoadZone loads an IANA time zone by name. The empty name and "Local"
// (whatever the server's zone happens to be) are refused: a rotation's
// handoffs must not move with the machine it runs on.
func LoadZone(name string) (*time.Location, error) {
	loc, err := time.LoadLocation(name)
	if err != nil || name == "" || name == "Local" {
		return nil, fmt.Errorf("unknown time zone %q: want an IANA name such as Europe/Berlin or America/New_York", name)
	}
	return loc, nil
}

// ExactWall returns the instant clocks in loc show the wall time w (its
// fields read as they are, whatever w's own zone), and false when that
// wall time does not exist there: the clocks skip it for daylight saving.
func ExactWall(w time.Time, loc *time.Location) (time.Time, bool) {
	t := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, loc)
	return t, t.Hour() == w.Hour() && t.Minute() == w.Minute()
}

func (p *configParser) duration(n *yaml.Node, what string, ok bool) (time.Duration, bool) {
	d, err := time.ParseDuration(p.str(n))
	if err != nil {
		p.errorf(n, "%s: invalid duration %q: want a number with a unit, such as 90s, 15m or 1h", what, p.str(n))
		return 0, false
	}
	return d, ok
}

func (p *configParser) float(n *yaml.Node, what string, ok bool) (float64, bool) {
	f, err := strconv.ParseFloat(p.str(n), 64)
	if err != nil || n.Kind != yaml.ScalarNode {
		p.errorf(n, "%s: want a number, not %q", what, p.str(n))
		return 0, false
	}
	return f, ok
}

// str returns a scalar's text; a list or mapping where text was expected is
// a problem, and null is the empty string.
func (p *configParser) str(n *yaml.Node) string {
	n = configDeref(n)
	if n == nil {
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, "want a single value here, not a %s", configKind(n))
		return ""
	}
	if n.Tag == "!!null" {
		return ""
	}
	return n.Value
}

// list returns a sequence's items; nil (an absent key) is an empty list.
func (p *configParser) list(n *yaml.Node, what string) []*yaml.Node {
	n = configDeref(n)
	if n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "%s: want a list (- item), not a %s", what, configKind(n))
		return nil
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		out[i] = configDeref(c)
	}
	return out
}

// label describes a list item by its name, when it has one: `team "ops"`,
// else `a team`.
func (p *configParser) label(n *yaml.Node, kind string) string {
	n = configDeref(n)
	if n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k, v := n.Content[i], configDeref(n.Content[i+1]); k.Value == "name" && v.Kind == yaml.ScalarNode && v.Value != "" {
				return fmt.Sprintf("%s %q", kind, v.Value)
			}
		}
	}
	if strings.IndexAny(kind, "aeiou") == 0 {
		return "an " + kind
	}
	return "a " + kind
}

// mapping returns a mapping's values by key, reporting unknown and
// repeated keys. It returns nil if n is not a mapping.
func (p *configParser) mapping(n *yaml.Node, what string, known ...string) map[string]*yaml.Node {
	n = configDeref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		kind := "nothing"
		if n != nil {
			kind = configKind(n)
		}
		p.errorf(n, "%s: want a mapping (key: value), not %s", what, kind)
		return nil
	}
	out := map[string]*yaml.Node{}
	keyAt := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := configDeref(n.Content[i]), configDeref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, "%s: keys must be plain words", what)
			continue
		}
		if k.Value == "<<" {
			p.errorf(k, "%s: YAML merge keys (<<) are not supported; spell the settings out", what)
			continue
		}
		if !slices.Contains(known, k.Value) {
			p.errorf(k, "%s: unknown key %q%s", what, k.Value, p.suggest(k.Value, known))
			continue
		}
		if first, dup := keyAt[k.Value]; dup {
			p.errorf(k, "%s: %s is set twice (first at line %d)", what, k.Value, first.Line)
			continue
		}
		keyAt[k.Value] = k
		out[k.Value] = v
		if p.keyLine == nil {
			p.keyLine = map[*yaml.Node]int{}
		}
		p.keyLine[v] = k.Line
	}
	return out
}

// suggest returns `; did you mean "x"?` for the closest of candidates
// within two edits of s, or "".
func (p *configParser) suggest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := configDistance(strings.ToLower(s), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// configDistance is the Levenshtein distance between a and b.
func configDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

func configDeref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func configKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "mapping"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return fmt.Sprintf("value (%q)", n.Value)
	}
	return "document"
}

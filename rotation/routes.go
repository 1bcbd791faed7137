package rotation

// Route returns the route for an alert with the given labels: the first
// route, in configuration order, whose matchers all match, as Alertmanager
// matches them (a label the alert lacks reads as ""); a route without
// matchers matches every alert. The Default route is skipped in that scan
// wherever it sits and returned when no other route matches. Route returns
// false only when nothing matches and there is no Default route.
func (c Config) Route(lset map[string]string) (Route, bool) {
	var def *Route
	for i := range c.Routes {
		r := &c.Routes[i]
		if r.Default {
			if def == nil {
				def = r
			}
			continue
		}
		if matchesAll(r, lset) {
			return *r, true
		}
	}
	if def != nil {
		return *def, true
	}
	return Route{}, false
}

func matchesAll(r *Route, lset map[string]string) bool {
	for _, m := range r.Matchers {
		if m != nil && !m.Matches(lset[m.Name]) {
			return false
		}
	}
	return true
}

package web

import (
	"fmt"
	"strings"
)

// barChart is a bar chart drawn on the server as inline SVG (template
// block "barchart" in noise.html): no script, it scales to the screen's
// width through its viewBox, says every figure to screen readers in its
// aria-label, and to a pointer in each bar's <title>.
type barChart struct {
	Title string // also the SVG's <title>
	Label string // aria-label: the title and every bar's figure
	// Width and Height are the viewBox's; bars stand on Base.
	Width, Height, Base int
	Most                int // the tallest bar's count, the scale's top
	Bars                []chartBar
}

// chartBar is one bar with its place in the viewBox.
type chartBar struct {
	Count      int
	Tick       string // under the bar; "" for none
	Tip        string // its <title>
	X, Y, W, H float64
	Middle     float64 // x of the bar's centre, for its texts
}

// Chart geometry, in viewBox units.
const (
	chartWidth  = 480
	chartHeight = 170
	chartTop    = 18 // room for the tallest bar's count
	chartBase   = 145
	chartGap    = 0.2 // of a slot, between bars
)

// newBarChart lays out counts as bars: names say what each bar counts
// (in its tip and the aria-label), ticks label the axis under it ("" for
// none) and one and many name the unit counted.
func newBarChart(title string, names, ticks []string, counts []int, one, many string) barChart {
	c := barChart{Title: title, Width: chartWidth, Height: chartHeight, Base: chartBase}
	for _, n := range counts {
		c.Most = max(c.Most, n)
	}
	slot := float64(chartWidth) / float64(len(counts))
	figures := make([]string, len(counts))
	for i, n := range counts {
		h := 0.0
		if c.Most > 0 {
			h = float64(n) / float64(c.Most) * (chartBase - chartTop)
		}
		unit := many
		if n == 1 {
			unit = one
		}
		c.Bars = append(c.Bars, chartBar{Count: n, Tick: ticks[i], Tip: fmt.Sprintf("%s: %d %s", names[i], n, unit),
			X: float64(i)*slot + slot*chartGap/2, W: slot * (1 - chartGap), Y: chartBase - h, H: h,
			Middle: float64(i)*slot + slot/2})
		figures[i] = fmt.Sprintf("%s %d", names[i], n)
	}
	c.Label = fmt.Sprintf("%s: %s", title, strings.Join(figures, ", "))
	return c
}

package reports

import (
	"encoding/json"
	"fmt"
	htmltemplate "html/template"
	"io"
	"strings"
	texttemplate "text/template"
	"time"
)

// Rendering: the same Weekly as plain text (the CLI and the e-mail's
// plain-text part), HTML (the e-mail; tables and inline styles only, so
// that ordinary mail clients draw it, with the chart as table-cell bars),
// JSON (the API) and a Slack summary.

// WriteJSON writes w as indented JSON, the API's shape.
func WriteJSON(out io.Writer, w Weekly) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(w)
}

// WriteText writes w as plain text; link, when set, points at the full
// report.
func WriteText(out io.Writer, w Weekly, link string) error {
	return textReport.Execute(out, view{w, link})
}

// WriteHTML writes w as an HTML e-mail body.
func WriteHTML(out io.Writer, w Weekly, link string) error {
	return htmlReport.Execute(out, view{w, link})
}

// WriteHTMLBody writes the e-mail's report without the document around it
// or its heading, for a page to embed: the same template as WriteHTML's
// body, so the page and the e-mail show the same figures.
func WriteHTMLBody(out io.Writer, w Weekly, link string) error {
	return htmlReport.ExecuteTemplate(out, "body", view{w, link})
}

// Subject is the weekly e-mail's subject.
func Subject(w Weekly) string {
	return fmt.Sprintf("[quietpager] %s %s: %s, %s", w.Team, w.Week,
		plural(w.Figures.Interruptions.Total, "interruption", "interruptions"),
		plural(w.Figures.InterruptedNights, "interrupted night", "interrupted nights"))
}

// SlackSummary is the short Slack message pointing at the full report.
func SlackSummary(w Weekly, link string) string {
	var b strings.Builder
	f := w.Figures
	fmt.Fprintf(&b, "*Weekly report for %s, %s*: %s, %s, %s (%d in sleep hours), %s.",
		w.Team, w.Week, plural(f.Pages, "page", "pages"), plural(f.Incidents, "incident", "incidents"),
		plural(f.Interruptions.Total, "interruption", "interruptions"), f.Interruptions.Sleep,
		plural(f.InterruptedNights, "interrupted night", "interrupted nights"))
	for _, p := range w.People {
		if p.Risk.Level != RiskLow {
			fmt.Fprintf(&b, "\nBurnout risk %s for %s: %s.", p.Risk.Level, p.Person, p.Risk.Reason)
		}
	}
	if len(w.Noise) > 0 && len(w.Noise[0].Fixes) > 0 {
		fmt.Fprintf(&b, "\nFix first: %s: %s.", w.Noise[0].Rule, w.Noise[0].Fixes[0].Text)
	}
	if link != "" {
		fmt.Fprintf(&b, "\n<%s|Full report>", link)
	}
	return b.String()
}

type view struct {
	Weekly
	Link string
}

// barScale is the width in pixels (HTML) or characters (text) of one
// interruption in the chart, shrunk so the busiest day fits.
func (v view) barScale(full int) int {
	most := 1
	for _, d := range v.Days {
		most = max(most, d.Interruptions.Total)
	}
	return max(1, full/most)
}

// Bars returns the widths of the business, off and sleep bars of a day.
func (v view) Bars(d Day, full int) [3]int {
	s := v.barScale(full)
	return [3]int{d.Interruptions.Business * s, d.Interruptions.Off * s, d.Interruptions.Sleep * s}
}

func weekday(date string) string {
	t, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return date
	}
	return t.Format("Mon 02 Jan")
}

func duration(d time.Duration) string { return d.Round(time.Second).String() }

func hours(h Hours) string {
	return fmt.Sprintf("%gh", float64(int(time.Duration(h).Hours()*10+0.5))/10)
}

func percent(f float64) string { return fmt.Sprintf("%.0f%%", 100*f) }

func change(p *float64) string {
	if p == nil {
		return "new"
	}
	return fmt.Sprintf("%+.0f%%", *p)
}

func repeat(s string, n int) string { return strings.Repeat(s, max(0, n)) }

var funcs = map[string]any{"weekday": weekday, "duration": duration, "hours": hours, "percent": percent,
	"change": change, "repeat": repeat, "inc": func(i int) int { return i + 1 }}

var textReport = texttemplate.Must(texttemplate.New("text").Funcs(funcs).Parse(`quietpager weekly report: team {{.Team}}, {{.Week}} ({{.TimeZone}})
{{with .Figures}}
Pages                  {{.Pages}}
Incidents              {{.Incidents}} ({{printf "%.2f" .Shifts.PerShift}} per 12-hour shift, busiest shift {{.Shifts.Max}}, {{.Shifts.OverCeiling}} shifts over the ceiling of {{.Shifts.Ceiling}})
Interruptions          {{.Interruptions.Total}} (business hours {{.Interruptions.Business}}, off hours {{.Interruptions.Off}}, sleep hours {{.Interruptions.Sleep}})
Interrupted nights     {{.InterruptedNights}} (longest run {{.LongestNightRun}})
Weekend interruptions  {{.WeekendInterruptions}}
Time on call           {{hours .OnCall}}
Time to acknowledge    mean {{duration .TimeToAck.Mean}}, p90 {{duration .TimeToAck.P90}} ({{.TimeToAck.Count}} acknowledged)
Time to resolve        mean {{duration .TimeToResolve.Mean}}, p90 {{duration .TimeToResolve.P90}} ({{.TimeToResolve.Count}} resolved)
Escalations            {{.Escalations}}
{{end}}
Interruptions by day (B business, O off hours, S sleep hours)
{{range .Days}}{{$b := $.Bars . 40}}  {{weekday .Date}}  {{printf "%3d" .Interruptions.Total}} {{repeat "B" (index $b 0)}}{{repeat "O" (index $b 1)}}{{repeat "S" (index $b 2)}}
{{end}}
People
{{range .People}}  {{.Person}} ({{.TimeZone}}): {{.Interruptions.Total}} interruptions (business {{.Interruptions.Business}}, off {{.Interruptions.Off}}, sleep {{.Interruptions.Sleep}}), {{.InterruptedNights}} nights interrupted (longest run {{.LongestNightRun}}), {{.WeekendInterruptions}} at the weekend, {{hours .OnCall}} on call, {{printf "%.2f" .IncidentsPerShift}} incidents per 12 hours on call
    fairness: {{percent .InterruptionShare}} of the interruptions, {{percent .OnCallShare}} of the time on call
    burnout risk: {{.Risk.Level}} ({{.Risk.Reason}})
{{end}}
Week over week (against the mean of {{range $i, $w := .TrendWeeks}}{{if $i}}, {{end}}{{$w}}{{end}})
{{range .Trend}}  {{printf "%-20s" .Figure}} {{printf "%4d" .This}}  vs {{printf "%.2f" .PrevMean}}  {{change .Percent}}
{{end}}
Noisiest alert rules{{if not .Noise}}: none{{end}}
{{range $i, $r := .Noise}}  {{inc $i}}. {{.Rule}}: toil {{.ToilCost}}, {{.Pages}} pages, {{.Interruptions.Total}} interruptions, {{.Episodes}} episodes, transient {{percent .TransientShare}}, flapping {{percent .FlappingShare}}, at night {{percent .NightShare}}, median {{duration .MedianDuration}}, {{.NotActionable}} marked not actionable
{{range .Fixes}}     - {{.Text}}
{{end}}{{end}}{{if .Link}}
Full report: {{.Link}}
{{end}}`))

var htmlReport = htmltemplate.Must(htmltemplate.New("html").Funcs(funcs).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>quietpager weekly report: {{.Team}} {{.Week}}</title></head>
<body style="font-family: Helvetica, Arial, sans-serif; color: #222">
<h2>Weekly report: team {{.Team}}, {{.Week}}</h2>
{{template "body" .}}
<p style="color: #777; font-size: 12px">quietpager</p>
</body></html>
{{define "body"}}<p style="color: #666">Week in {{.TimeZone}}; each person's hours in their own zone.</p>
{{with .Figures}}<table cellpadding="4" cellspacing="0" border="0">
<tr><td>Pages</td><td align="right"><b>{{.Pages}}</b></td><td></td></tr>
<tr><td>Incidents</td><td align="right"><b>{{.Incidents}}</b></td><td>{{printf "%.2f" .Shifts.PerShift}} per 12-hour shift, busiest shift {{.Shifts.Max}}, {{.Shifts.OverCeiling}} shifts over the ceiling of {{.Shifts.Ceiling}}</td></tr>
<tr><td>Interruptions</td><td align="right"><b>{{.Interruptions.Total}}</b></td><td>business hours {{.Interruptions.Business}}, off hours {{.Interruptions.Off}}, sleep hours {{.Interruptions.Sleep}}</td></tr>
<tr><td>Interrupted nights</td><td align="right"><b>{{.InterruptedNights}}</b></td><td>longest run {{.LongestNightRun}}</td></tr>
<tr><td>Weekend interruptions</td><td align="right"><b>{{.WeekendInterruptions}}</b></td><td></td></tr>
<tr><td>Time on call</td><td align="right"><b>{{hours .OnCall}}</b></td><td></td></tr>
<tr><td>Time to acknowledge</td><td align="right"><b>{{duration .TimeToAck.Mean}}</b></td><td>mean; p90 {{duration .TimeToAck.P90}}, {{.TimeToAck.Count}} acknowledged</td></tr>
<tr><td>Time to resolve</td><td align="right"><b>{{duration .TimeToResolve.Mean}}</b></td><td>mean; p90 {{duration .TimeToResolve.P90}}, {{.TimeToResolve.Count}} resolved</td></tr>
<tr><td>Escalations</td><td align="right"><b>{{.Escalations}}</b></td><td>nobody acknowledged in time</td></tr>
</table>{{end}}

<h3>Interruptions by day</h3>
<table cellpadding="2" cellspacing="0" border="0">
{{range .Days}}{{$b := $.Bars . 300}}<tr><td style="white-space: nowrap">{{weekday .Date}}</td><td align="right">{{.Interruptions.Total}}</td><td>
<table cellpadding="0" cellspacing="0" border="0"><tr>{{if index $b 0}}<td bgcolor="#4c9be8" width="{{index $b 0}}" height="14" style="background: #4c9be8; font-size: 1px">&nbsp;</td>{{end}}{{if index $b 1}}<td bgcolor="#f0a030" width="{{index $b 1}}" height="14" style="background: #f0a030; font-size: 1px">&nbsp;</td>{{end}}{{if index $b 2}}<td bgcolor="#c0392b" width="{{index $b 2}}" height="14" style="background: #c0392b; font-size: 1px">&nbsp;</td>{{end}}<td width="1" style="font-size: 1px">&nbsp;</td></tr></table>
</td></tr>
{{end}}</table>
<p style="font-size: 12px"><span style="color: #4c9be8">&#9632;</span> business hours &nbsp; <span style="color: #f0a030">&#9632;</span> off hours &nbsp; <span style="color: #c0392b">&#9632;</span> sleep hours</p>

<h3>People</h3>
<table cellpadding="4" cellspacing="0" border="1" style="border-collapse: collapse">
<tr><th align="left">Person</th><th>Interruptions</th><th>Business / off / sleep</th><th>Nights (longest run)</th><th>Weekend</th><th>On call</th><th>Share of interruptions / of on-call time</th><th align="left">Burnout risk</th></tr>
{{range .People}}<tr><td>{{.Person}}<br><small>{{.TimeZone}}</small></td><td align="right">{{.Interruptions.Total}}</td><td align="center">{{.Interruptions.Business}} / {{.Interruptions.Off}} / {{.Interruptions.Sleep}}</td><td align="center">{{.InterruptedNights}} ({{.LongestNightRun}})</td><td align="right">{{.WeekendInterruptions}}</td><td align="right">{{hours .OnCall}}</td><td align="center">{{percent .InterruptionShare}} / {{percent .OnCallShare}}</td><td><b>{{.Risk.Level}}</b>: {{.Risk.Reason}}</td></tr>
{{end}}</table>

<h3>Week over week</h3>
<p style="color: #666">Against the mean of {{range $i, $w := .TrendWeeks}}{{if $i}}, {{end}}{{$w}}{{end}}.</p>
<table cellpadding="4" cellspacing="0" border="0">
{{range .Trend}}<tr><td>{{.Figure}}</td><td align="right"><b>{{.This}}</b></td><td align="right">{{printf "%.2f" .PrevMean}}</td><td align="right">{{change .Percent}}</td></tr>
{{end}}</table>

<h3>Noisiest alert rules</h3>
{{if not .Noise}}<p>None this week.</p>{{end}}<ol>
{{range .Noise}}<li><b>{{.Rule}}</b>: toil {{.ToilCost}}, {{.Pages}} pages, {{.Interruptions.Total}} interruptions, {{.Episodes}} episodes, transient {{percent .TransientShare}}, flapping {{percent .FlappingShare}}, at night {{percent .NightShare}}, median {{duration .MedianDuration}}, {{.NotActionable}} marked not actionable
{{if .Fixes}}<ul>{{range .Fixes}}<li>{{.Text}}</li>{{end}}</ul>{{end}}</li>
{{end}}</ol>
{{if .Link}}<p><a href="{{.Link}}">Open the full report</a></p>{{end}}{{end}}`))

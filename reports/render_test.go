package reports_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/quietpager/quietpager/reports"
)

// The page embeds exactly what the e-mail shows under its heading.
func TestHTMLBodyIsTheEmailsBody(t *testing.T) {
	w := reports.Weekly{Team: "db", Week: reports.Week{Year: 2026, Num: 47}, TimeZone: "Europe/Berlin",
		Figures: reports.Figures{Pages: 7, Interruptions: reports.Bands{Business: 1, Sleep: 2, Total: 3}},
		Days:    []reports.Day{{Date: "2026-11-16", Interruptions: reports.Bands{Sleep: 2, Total: 2}}},
		People:  []reports.PersonFigures{{Person: "alice", Risk: reports.Risk{Level: reports.RiskHigh, Reason: "3 nights"}}},
		Noise:   []reports.RuleNoise{{Rule: "DiskFull", Fixes: []reports.Fix{{Text: "raise `for:` to 5m"}}}}}
	var mail, body bytes.Buffer
	if err := reports.WriteHTML(&mail, w, ""); err != nil {
		t.Fatal(err)
	}
	if err := reports.WriteHTMLBody(&body, w, ""); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(mail.String(), body.String()) {
		t.Errorf("the e-mail does not hold the body:\n%s\n---\n%s", mail.String(), body.String())
	}
	for _, unwanted := range []string{"<html", "<body", "<h2>", "<title>"} {
		if strings.Contains(body.String(), unwanted) {
			t.Errorf("the body holds %s", unwanted)
		}
	}
	if !strings.Contains(body.String(), "DiskFull") || !strings.Contains(body.String(), "alice") {
		t.Errorf("the body lacks the noise or the people:\n%s", body.String())
	}
}

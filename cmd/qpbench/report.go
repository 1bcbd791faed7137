package main

import (
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// printer writes the report as aligned text or as markdown.
type printer struct {
	out      io.Writer
	markdown bool
}

func (p printer) header(c config, bin string) {
	what := "quietpager " + bin
	if c.quietpager == "" {
		commit, _ := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
		what = "quietpager built from the working tree at " + strings.TrimSpace(string(commit))
		if dirty, _ := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); len(dirty) > 0 {
			what += " with uncommitted changes"
		}
	}
	p.note(fmt.Sprintf("qpbench %s: %d CPUs, %s %s/%s, %s; %s measured after %s warm-up per step; traffic %d%% new groups, %d%% re-sent, %d%% resolved.",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH,
		what, c.duration, c.warmup, 100-repeatPercent-resolvePercent, repeatPercent, resolvePercent))
}

func (p printer) note(s string) {
	fmt.Fprintf(p.out, "\n%s\n", s)
}

// table prints a title, a header row and rows.
func (p printer) table(title string, head []string, rows [][]string) {
	if p.markdown {
		fmt.Fprintf(p.out, "\n**%s**\n\n| %s |\n|%s\n", title, strings.Join(head, " | "), strings.Repeat("---:|", len(head)))
		for _, r := range rows {
			fmt.Fprintf(p.out, "| %s |\n", strings.Join(r, " | "))
		}
		return
	}
	fmt.Fprintf(p.out, "\n%s\n", title)
	w := tabwriter.NewWriter(p.out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "%s\t\n", strings.Join(head, "\t"))
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t\n", strings.Join(r, "\t"))
	}
	w.Flush()
}

// pct formats a CPU share; 100% is one core.
func pct(f float64) string { return fmt.Sprintf("%.0f%%", f) }

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func (p printer) sweep(s sweep) {
	head := []string{"clients", "requests/s", "alerts/s", "p50", "p99", "errors"}
	server := s.batch != nil
	if server {
		head = append(head, "alerts/commit", "commit", "server CPU", "server peak RSS")
	}
	head = append(head, "qpbench CPU", "PostgreSQL CPU", "other CPU")
	var rows [][]string
	for i, r := range s.steps {
		errs := fmt.Sprint(r.errors)
		if r.errors > 0 {
			errs += " (" + r.firstErr + ")"
		}
		if r.unserved > 0 {
			errs += fmt.Sprintf(", %d clients unserved", r.unserved)
		}
		row := []string{fmt.Sprint(r.clients), fmt.Sprintf("%.0f", r.reqPerSec()), fmt.Sprintf("%.0f", r.alertsPerSec()),
			ms(r.percentile(0.50)), ms(r.percentile(0.99)), errs}
		gen, srv, pg, other := r.usage.percent()
		if server {
			row = append(row, fmt.Sprintf("%.0f", s.batch[i]), ms(s.commit[i]), pct(srv), fmt.Sprintf("%.0f MiB", s.rss[i]))
			if r.wrapped {
				row[2] += " (pool wrapped)"
			}
		}
		row = append(row, pct(gen), pct(pg), pct(other))
		rows = append(rows, row)
	}
	p.table(s.title, head, rows)
}

func (p printer) open(label string, k int, offered float64, r result, batch float64, commit time.Duration) {
	gen, srv, pg, other := r.usage.percent()
	p.table(fmt.Sprintf("quietpager on %s, open loop at half the peak: %.0f alerts/s offered (%d-alert payloads), latency from the scheduled send time", label, offered, k),
		[]string{"requests/s", "alerts/s", "p50", "p99", "errors", "alerts/commit", "commit", "server CPU", "qpbench CPU", "PostgreSQL CPU", "other CPU"},
		[][]string{{fmt.Sprintf("%.0f", r.reqPerSec()), fmt.Sprintf("%.0f", r.alertsPerSec()),
			ms(r.percentile(0.50)), ms(r.percentile(0.99)), fmt.Sprint(r.errors), fmt.Sprintf("%.0f", batch), ms(commit),
			pct(srv), pct(gen), pct(pg), pct(other)}})
}

func (p printer) checks(cs []check) {
	fmt.Fprintf(p.out, "\nTarget checks\n\n")
	for _, c := range cs {
		verdict := "PASS"
		if c.info {
			verdict = "INFO"
		} else if !c.pass {
			verdict = "FAIL"
		}
		if p.markdown {
			fmt.Fprintf(p.out, "- **%s** %s\n", verdict, c.text)
		} else {
			fmt.Fprintf(p.out, "%s  %s\n", verdict, c.text)
		}
	}
}

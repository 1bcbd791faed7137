package integrations

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"maps"
	"slices"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/wneessen/go-mail"
)

// MailOptions configure the SMTP sender.
type MailOptions struct {
	Host string
	Port int    // default 587 with TLS, 25 without
	From string // "quietpager <pager@example.com>"
	// Username and Password, when set, authenticate (the mechanism is
	// discovered from the server).
	Username, Password string
	// TLS requires TLS: implicit TLS on port 465, STARTTLS elsewhere.
	// Without it the connection is plain text (a local relay, mailpit).
	TLS     bool
	Timeout time.Duration // per connection and command; default 15s
	Breaker BreakerOptions
	Metrics *Metrics
}

// Mailer sends pages by e-mail. It is safe for concurrent use; each Send
// uses its own connection.
type Mailer struct {
	o       MailOptions
	breaker *breaker
	metrics *Metrics
}

// NewMailer builds a Mailer. Options are checked at each Send, where a bad
// one is a Permanent error.
func NewMailer(o MailOptions) *Mailer {
	if o.Port == 0 {
		o.Port = 25
		if o.TLS {
			o.Port = 587
		}
	}
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Second
	}
	return &Mailer{o: o, breaker: newBreaker("smtp", o.Breaker, o.Metrics), metrics: o.Metrics}
}

// Send mails the page to one address, as HTML with a plain-text
// alternative. messageID is the Message-ID to use, with or without angle
// brackets ("<page-42@quietpager>"); the caller derives it from the page so
// that a retry after an ambiguous failure (the server may have accepted the
// message before the connection broke) carries the same Message-ID and
// mail clients show it once.
func (m *Mailer) Send(ctx context.Context, to string, p Page, messageID string) (Receipt, error) {
	var r Receipt
	msg, err := m.message(to, p, messageID)
	if err != nil {
		err = permanent(fmt.Errorf("smtp: %w", err))
	} else {
		err = m.breaker.do(ctx, func() error { return m.send(ctx, msg) })
		if err != nil {
			err = fmt.Errorf("smtp send to %s: %w", to, err)
		} else {
			r = Receipt{Channel: to, ID: msg.GetMessageID()}
		}
	}
	m.metrics.delivered(channelEmail, err)
	return r, err
}

func (m *Mailer) message(to string, p Page, messageID string) (*mail.Msg, error) {
	v := mailView(p)
	var text, html bytes.Buffer
	if err := mailText.Execute(&text, v); err != nil {
		return nil, err
	}
	if err := mailHTML.Execute(&html, v); err != nil {
		return nil, err
	}
	msg, err := m.compose(to, Mail{Subject: mailSubject(p), Text: text.String(), HTML: html.String()}, messageID)
	if err != nil {
		return nil, err
	}
	msg.SetGenHeader(mail.Header("X-Quietpager-Incident"), strconv.FormatInt(p.IncidentID, 10))
	return msg, nil
}

// Mail is a message that is not a page (the weekly report): a subject and
// the body as plain text and HTML.
type Mail struct {
	Subject, Text, HTML string
}

// SendMail sends m to one address, as HTML with a plain-text alternative,
// with the given Message-ID (see Send), through the same breaker as pages.
func (m *Mailer) SendMail(ctx context.Context, to string, mm Mail, messageID string) error {
	msg, err := m.compose(to, mm, messageID)
	if err != nil {
		err = permanent(fmt.Errorf("smtp: %w", err))
	} else if err = m.breaker.do(ctx, func() error { return m.send(ctx, msg) }); err != nil {
		err = fmt.Errorf("smtp send to %s: %w", to, err)
	}
	m.metrics.delivered(channelEmail, err)
	return err
}

func (m *Mailer) compose(to string, mm Mail, messageID string) (*mail.Msg, error) {
	id := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(messageID), "<"), ">")
	if id == "" || !strings.Contains(id, "@") || strings.ContainsAny(id, "<> \r\n") {
		return nil, fmt.Errorf("invalid Message-ID %q", messageID)
	}
	msg := mail.NewMsg()
	if err := msg.From(m.o.From); err != nil {
		return nil, fmt.Errorf("from %q: %w", m.o.From, err)
	}
	if err := msg.To(to); err != nil {
		return nil, fmt.Errorf("to %q: %w", to, err)
	}
	msg.Subject(mm.Subject)
	msg.SetMessageIDWithValue(id)
	msg.SetDate()
	// RFC 3834: keep out-of-office replies away from the pager address.
	msg.SetGenHeader(mail.Header("Auto-Submitted"), "auto-generated")
	msg.SetBodyString(mail.TypeTextPlain, mm.Text)
	msg.AddAlternativeString(mail.TypeTextHTML, mm.HTML)
	return msg, nil
}

func (m *Mailer) send(ctx context.Context, msg *mail.Msg) error {
	opts := []mail.Option{mail.WithPort(m.o.Port), mail.WithTimeout(m.o.Timeout)}
	switch {
	case m.o.TLS && m.o.Port == 465:
		opts = append(opts, mail.WithSSL())
	case m.o.TLS:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	}
	if m.o.Username != "" {
		opts = append(opts,
			mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover),
			mail.WithUsername(m.o.Username),
			mail.WithPassword(m.o.Password))
	}
	c, err := mail.NewClient(m.o.Host, opts...)
	if err != nil {
		return permanent(err)
	}
	return smtpError(c.DialAndSendWithContext(ctx, msg))
}

// smtpError marks as Permanent what the server refused for good (a 5xx
// reply to MAIL FROM or RCPT TO: a bad address). Failures to connect, 4xx
// replies and failures after DATA are retryable; the last are ambiguous
// (the server may have taken the message), which the stable Message-ID
// makes harmless.
func smtpError(err error) error {
	if err == nil {
		return nil
	}
	var se *mail.SendError
	if errors.As(err, &se) && !se.IsTemp() {
		switch se.Reason {
		case mail.ErrSMTPMailFrom, mail.ErrSMTPRcptTo, mail.ErrGetSender, mail.ErrGetRcpts, mail.ErrNoUnencoded:
			return permanent(err)
		}
	}
	return err
}

func mailSubject(p Page) string {
	prefix := "[quietpager]"
	switch p.State {
	case StateAcknowledged:
		prefix += " Acknowledged:"
	case StateResolved:
		prefix += " Resolved:"
	}
	return fmt.Sprintf("%s %s (#%d)", prefix, oneLine(p.Title), p.IncidentID)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

type mailLabel struct{ Name, Value string }

type mailPage struct {
	Page
	StateLine string
	Labels    []mailLabel
}

func mailView(p Page) mailPage {
	v := mailPage{Page: p}
	switch p.State {
	case StateAcknowledged, StateResolved:
		v.StateLine = strings.ToUpper(p.State[:1]) + p.State[1:]
		if p.Actor != "" {
			v.StateLine += " by " + p.Actor
		}
	}
	for _, k := range slices.Sorted(maps.Keys(p.Labels)) {
		v.Labels = append(v.Labels, mailLabel{k, p.Labels[k]})
	}
	return v
}

var mailText = texttemplate.Must(texttemplate.New("text").Parse(`{{.Title}}
{{if .StateLine}}
{{.StateLine}}
{{end}}{{if .Summary}}
{{.Summary}}
{{end}}{{if .Labels}}
Labels:
{{range .Labels}}  {{.Name}}={{.Value}}
{{end}}{{end}}{{if .URL}}
Open the incident: {{.URL}}
{{end}}
-- 
quietpager, incident #{{.IncidentID}}
`))

var mailHTML = htmltemplate.Must(htmltemplate.New("html").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body style="font-family: sans-serif">
<h2>{{if .URL}}<a href="{{.URL}}">{{.Title}}</a>{{else}}{{.Title}}{{end}}</h2>
{{if .StateLine}}<p><strong>{{.StateLine}}</strong></p>{{end}}
{{if .Summary}}<p style="white-space: pre-wrap">{{.Summary}}</p>{{end}}
{{if .Labels}}<table>{{range .Labels}}
<tr><td><code>{{.Name}}</code></td><td><code>{{.Value}}</code></td></tr>{{end}}
</table>{{end}}
{{if .URL}}<p><a href="{{.URL}}">Open the incident</a></p>{{end}}
<p style="color: #777">quietpager, incident #{{.IncidentID}}</p>
</body></html>
`))

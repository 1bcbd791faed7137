package replay

import (
	"context"
	"fmt"

	"github.com/quietpager/quietpager/integrations"
)

// ReceiptChannel is the receipt channel of a page that a replay recorded
// instead of sending.
const ReceiptChannel = "replay"

// Slack, Mail and Webhook stand in for the real senders during a replay:
// every page "reaches" its destination, so that pages and interruptions
// are recorded exactly as the live pager records them, with every channel
// configured, but nothing leaves the machine.
type (
	Slack   struct{}
	Mail    struct{}
	Webhook struct{}
)

func receipt(kind, to string, p integrations.Page) integrations.Receipt {
	return integrations.Receipt{Channel: ReceiptChannel, ID: fmt.Sprintf("%s:%s:%d", kind, to, p.IncidentID)}
}

// Post implements paging.SlackSender.
func (Slack) Post(_ context.Context, channel, _ string, p integrations.Page) (integrations.Receipt, error) {
	return receipt("slack", channel, p), nil
}

// DirectMessage implements paging.SlackSender.
func (Slack) DirectMessage(_ context.Context, userID string, p integrations.Page) (integrations.Receipt, error) {
	return receipt("slack", userID, p), nil
}

// Update implements paging.SlackSender.
func (Slack) Update(context.Context, integrations.Receipt, integrations.Page) error { return nil }

// Reply implements paging.SlackSender.
func (Slack) Reply(context.Context, integrations.Receipt, string) error { return nil }

// Send implements paging.MailSender.
func (Mail) Send(_ context.Context, to string, p integrations.Page, _ string) (integrations.Receipt, error) {
	return receipt("mail", to, p), nil
}

// Send implements paging.WebhookSender.
func (Webhook) Send(_ context.Context, url, _ string, p integrations.Page, _ string) (integrations.Receipt, error) {
	return receipt("webhook", url, p), nil
}

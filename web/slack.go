package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"
	"github.com/slack-go/slack"

	"github.com/quietpager/quietpager"
)

// SlackBot answers Slack's slash commands and button clicks;
// *slackbot.Bot is one.
type SlackBot interface {
	Command(ctx context.Context, c slack.SlashCommand) slack.Msg
	Interact(ctx context.Context, cb slack.InteractionCallback)
}

// maxSlackBody bounds a request from Slack; a click carries the whole
// message it was on, which stays well below this.
const maxSlackBody = 1 << 20

// slackFormKey is where verifySlack leaves the verified, parsed body.
const slackFormKey = "slack_form"

// verifySlack lets a request through only if Slack signed it with the
// signing secret: a missing header, a timestamp more than five minutes
// away, or a signature that does not match the body is 401 and nothing
// more happens. The body is read (up to maxSlackBody) and its form kept
// for the handler.
func verifySlack(secret string, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxSlackBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, gin.H{"error": "body too large"})
				return
			}
			fail(c, log, quietpager.Errorf(quietpager.Invalid, "could not read the body"))
			return
		}
		sv, err := slack.NewSecretsVerifier(c.Request.Header, secret)
		if err == nil {
			_, _ = sv.Write(body)
			err = sv.Ensure()
		}
		if err != nil {
			log.Debug("slack request refused", "path", c.Request.URL.Path, "err", err)
			fail(c, log, quietpager.Errorf(quietpager.Unauthorized, "the request is not signed by Slack"))
			return
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			fail(c, log, quietpager.Errorf(quietpager.Invalid, "the body is not a form"))
			return
		}
		c.Set(slackFormKey, form)
		c.Next()
	}
}

func slackForm(c *gin.Context) url.Values {
	v, _ := c.Get(slackFormKey)
	form, _ := v.(url.Values)
	return form
}

// handleSlackCommand serves POST /slack/commands: the slash command. The
// answer (JSON, within Slack's three seconds) is the bot's reply or a
// note that the reply follows through the response_url.
func handleSlackCommand(bot SlackBot) gin.HandlerFunc {
	return func(c *gin.Context) {
		req := &http.Request{Method: http.MethodPost, PostForm: slackForm(c), Form: slackForm(c),
			Header: http.Header{}, Body: http.NoBody}
		sc, _ := slack.SlashCommandParse(req) // the form is parsed already; nothing can fail
		c.JSON(http.StatusOK, bot.Command(c.Request.Context(), sc))
	}
}

// handleSlackInteraction serves POST /slack/interactions: button clicks.
// Slack only wants a 200; the bot answers through the response_url.
func handleSlackInteraction(bot SlackBot, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		var cb slack.InteractionCallback
		if err := json.Unmarshal([]byte(slackForm(c).Get("payload")), &cb); err != nil {
			fail(c, log, quietpager.Errorf(quietpager.Invalid, "the payload is not an interaction"))
			return
		}
		bot.Interact(c.Request.Context(), cb)
		c.Status(http.StatusOK)
	}
}

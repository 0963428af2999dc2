package app

import (
	"context"
	"fmt"

	"behalf/config"
	"behalf/directory"
	"behalf/integrations"
	"behalf/security"
)

// IntegrationsOptions derives the outbox's options from the configuration.
func IntegrationsOptions(cfg config.Config) integrations.Options {
	return integrations.Options{
		SMTPURL: cfg.SMTPURL, SMTPFrom: cfg.SMTPFrom, AllowPrivate: cfg.WebhookAllowPrivate,
		Timeout: cfg.WebhookTimeout, MaxAttempts: cfg.WebhookMaxAttempts, Backoff: cfg.WebhookBackoff,
		SecretOverlap: cfg.WebhookSecretOverlap, PollInterval: cfg.OutboxPollInterval,
	}
}

// people answers the outbox's questions about users from their owners: the account (security) and
// the contact's name (directory). A staff member shows as their contact's full name, else their login.
type people struct {
	sec *security.Service
	dir *directory.Service
}

func (p people) Person(ctx context.Context, userID string) (integrations.Person, error) {
	u, err := p.sec.UserByID(ctx, userID)
	if err != nil {
		return integrations.Person{}, fmt.Errorf("user %s: %w", userID, err)
	}
	out := integrations.Person{ID: u.ID, DisplayName: u.Login, Email: u.Email}
	if u.ContactID != nil {
		c, err := p.dir.ContactByID(ctx, *u.ContactID)
		if err != nil {
			return out, fmt.Errorf("contact of %s: %w", userID, err)
		}
		if c != nil && c.FullName() != "" {
			out.DisplayName = c.FullName()
		}
	}
	return out, nil
}

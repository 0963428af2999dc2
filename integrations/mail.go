package integrations

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"strings"
	"time"

	"behalf/model"
	"behalf/store"
)

// mailer sends e-mail through the SMTP server of BEHALF_SMTP_URL.
type mailer struct {
	addr     string // host:port
	host     string
	implicit bool // smtps://: TLS from the first byte
	user     string
	pass     string
	from     string
	timeout  time.Duration
}

// newMailer parses smtp://user:pass@host:port or smtps://…; an empty URL means no e-mail (nil).
func newMailer(raw, from string, timeout time.Duration) (*mailer, error) {
	if raw == "" {
		return nil, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
		return nil, errors.New("BEHALF_SMTP_URL must look like smtp://user:pass@host:587 or smtps://user:pass@host:465")
	}
	m := &mailer{host: u.Hostname(), implicit: u.Scheme == "smtps", from: from, timeout: timeout}
	port := u.Port()
	if port == "" {
		port = "587"
		if m.implicit {
			port = "465"
		}
	}
	m.addr = net.JoinHostPort(m.host, port)
	if u.User != nil {
		m.user = u.User.Username()
		m.pass, _ = u.User.Password()
	}
	if m.from == "" {
		m.from = "behalf@" + m.host
	}
	if _, err := mail.ParseAddress(m.from); err != nil {
		return nil, fmt.Errorf("BEHALF_SMTP_FROM is not an e-mail address: %w", err)
	}
	return m, nil
}

// send delivers one message; the context's deadline bounds the whole conversation.
func (m *mailer) send(ctx context.Context, to, subject, body, messageID string) error {
	d := net.Dialer{Timeout: m.timeout}
	var conn net.Conn
	var err error
	if m.implicit {
		conn, err = (&tls.Dialer{NetDialer: &d, Config: &tls.Config{ServerName: m.host}}).DialContext(ctx, "tcp", m.addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", m.addr)
	}
	if err != nil {
		return fmt.Errorf("connect to SMTP server: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, m.host)
	if err != nil {
		return fmt.Errorf("SMTP greeting: %w", err)
	}
	defer c.Close()
	if !m.implicit {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(&tls.Config{ServerName: m.host}); err != nil {
				return fmt.Errorf("SMTP STARTTLS: %w", err)
			}
		}
	}
	if m.user != "" {
		// net/smtp's PLAIN refuses to send the password unencrypted except to localhost.
		if err := c.Auth(smtp.PlainAuth("", m.user, m.pass, m.host)); err != nil {
			return fmt.Errorf("SMTP AUTH: %w", err)
		}
	}
	if err := c.Mail(m.from); err != nil {
		return fmt.Errorf("SMTP MAIL FROM: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("SMTP RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("SMTP DATA: %w", err)
	}
	if _, err := w.Write(m.message(to, subject, body, messageID)); err != nil {
		return fmt.Errorf("SMTP DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("SMTP DATA: %w", err)
	}
	return c.Quit()
}

// message renders a plain-text UTF-8 message (quoted-printable body, encoded subject).
func (m *mailer) message(to, subject, body, messageID string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\n", m.from, to, mime.QEncoding.Encode("utf-8", subject))
	fmt.Fprintf(&b, "Date: %s\r\nMessage-ID: <%s@behalf>\r\nMIME-Version: 1.0\r\n", time.Now().UTC().Format(time.RFC1123Z), messageID)
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(strings.ReplaceAll(body, "\n", "\r\n")))
	_ = qp.Close()
	return b.Bytes()
}

// customerMail renders the e-mail telling a customer that a staff member started acting for them, or
// nil when the customer opted out of it (the audit record and the webhook stay) or has no address.
func (s *Service) customerMail(ctx context.Context, data map[string]any) (*model.WebhookDelivery, error) {
	customerID, _ := data["subjectId"].(string)
	operatorID, _ := data["actorId"].(string)
	if customerID == "" {
		return nil, nil
	}
	on, err := s.OnBehalfEmail(ctx, customerID)
	if err != nil || !on {
		return nil, err
	}
	customer, err := s.people.Person(ctx, customerID)
	if err != nil {
		return nil, fmt.Errorf("look up customer: %w", err)
	}
	if customer.Email == "" {
		return nil, nil
	}
	operator, err := s.people.Person(ctx, operatorID)
	if err != nil {
		return nil, fmt.Errorf("look up operator: %w", err)
	}
	reason, _ := data["reason"].(string)
	if reason == "" {
		reason = "(none given)"
	}
	at := s.clock.Now().UTC().Format("Monday, 2 January 2006, 15:04 MST")
	ends := ""
	if exp, ok := data["expiresAt"].(time.Time); ok {
		ends = fmt.Sprintf(" It ends by itself at %s at the latest.", exp.UTC().Format("15:04 MST"))
	}
	body := fmt.Sprintf(`Hello %s,

%s of our support team started working in your account on your behalf
on %s.

Reason given: %s

Everything done in this session is recorded under their name and listed in your
account's on-behalf activity.%s

To end it now, sign in and revoke the session marked "on behalf" in your account's
session list, or turn off "allow login on behalf" in your account settings.
If you did not expect this, please contact us.
`, customer.DisplayName, operator.DisplayName, at, reason, ends)
	return &model.WebhookDelivery{
		Channel: ChannelEmail, Target: "email:" + customer.Email, Recipient: customer.Email,
		Subject: operator.DisplayName + " is acting on your behalf", Body: body,
	}, nil
}

// OnBehalfEmail reports whether the customer wants the e-mail about a login on behalf (default yes).
func (s *Service) OnBehalfEmail(ctx context.Context, userID string) (bool, error) {
	var rows []model.NotificationSetting
	if err := store.Conn(ctx, s.db).Where("user_id = ?", userID).Limit(1).Find(&rows).Error; err != nil {
		return false, fmt.Errorf("read notification settings: %w", err)
	}
	return len(rows) == 0 || rows[0].OnbehalfEmail, nil
}

// SetOnBehalfEmail records the customer's choice about the e-mail (the record and webhooks stay).
func (s *Service) SetOnBehalfEmail(ctx context.Context, userID string, on bool) error {
	db := store.Conn(ctx, s.db)
	row := model.NotificationSetting{UserID: userID, OnbehalfEmail: on, UpdatedAt: s.clock.Now()}
	res := db.Model(&model.NotificationSetting{}).Where("user_id = ?", userID).
		Updates(map[string]any{"onbehalf_email": on, "updated_at": row.UpdatedAt})
	if res.Error != nil {
		return fmt.Errorf("save notification settings: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		if err := db.Create(&row).Error; err != nil {
			return fmt.Errorf("save notification settings: %w", err)
		}
	}
	return nil
}

package model

import "time"

// WebhookEndpoint is a receiver of signed webhooks (Standard Webhooks). Secret is the current signing
// secret (`whsec_…`); after a rotation PreviousSecret keeps signing too until PreviousValidUntil, so
// receivers can switch without losing a message.
type WebhookEndpoint struct {
	ID                 string `gorm:"primaryKey"`
	URL                string
	Description        string
	Events             StringList `gorm:"type:text"`
	Active             bool
	Secret             string `json:"-"`
	PreviousSecret     string `json:"-"`
	PreviousValidUntil *time.Time
	CreatedBy          string
	CreatedAt          time.Time
	UpdatedAt          time.Time
	DeletedAt          *time.Time
}

// OutboxEvent is one event written in the transaction of the change it reports; its id is the
// `webhook-id` of every delivery of it.
type OutboxEvent struct {
	ID        string `gorm:"primaryKey"`
	Type      string
	DedupKey  *string
	Payload   string
	CreatedAt time.Time
}

// WebhookDelivery is one event bound for one target: a webhook endpoint (Channel "webhook") or an
// e-mail recipient (Channel "email", with its rendered message). Deliveries of one target are sent in
// order.
type WebhookDelivery struct {
	ID            string `gorm:"primaryKey"`
	EventID       string
	Channel       string
	Target        string
	EndpointID    *string
	Recipient     string
	Subject       string
	Body          string
	Status        string
	Attempts      int
	NextAttemptAt time.Time
	LeaseUntil    *time.Time
	LastAttemptAt *time.Time
	LastStatus    *int
	LastError     string
	DeliveredAt   *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
	// EventType is filled by the integrations service when listing (not a column).
	EventType string `gorm:"-"`
}

// NotificationSetting is a customer's choice about notifications (absent: the defaults).
type NotificationSetting struct {
	UserID        string `gorm:"primaryKey"`
	OnbehalfEmail bool
	UpdatedAt     time.Time
}

// TableName: the outbox's deliveries include e-mails; GraphQL shows the webhook ones.
func (WebhookDelivery) TableName() string { return "outbox_deliveries" }

// The connection types of the integrations schema.
type (
	WebhookDeliveryConnection = Connection[WebhookDelivery]
	WebhookDeliveryEdge       = Edge[WebhookDelivery]
)

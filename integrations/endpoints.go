package integrations

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"behalf/apperr"
	"behalf/model"
	"behalf/security"
	"behalf/store"

	"gorm.io/gorm"
)

// EndpointInput creates or changes an endpoint; nil fields of an update stay as they are.
type EndpointInput struct {
	ID          string
	URL         *string
	Events      []string
	Description *string
	Active      *bool
}

// EndpointSecret is an endpoint with its signing secret, returned only at creation and rotation.
type EndpointSecret struct {
	Endpoint *model.WebhookEndpoint
	Secret   string
}

func requireAdmin(ctx context.Context) (*security.Identity, error) {
	return security.Require(ctx, security.PermIntegrationsManage)
}

// validURL checks an endpoint URL: absolute http(s), no credentials or fragment, and not a literal
// refused address (names are checked again at every connection).
func (s *Service) validURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" || len(raw) > 2000 {
		return "", apperr.Input("url", "must be an absolute http(s) URL")
	}
	if u.User != nil || u.Fragment != "" {
		return "", apperr.Input("url", "must not carry credentials or a fragment")
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil && refused(ip) && !s.opt.AllowPrivate {
		return "", apperr.Input("url", "private, loopback and link-local addresses are refused")
	}
	if strings.EqualFold(u.Hostname(), "localhost") && !s.opt.AllowPrivate {
		return "", apperr.Input("url", "private, loopback and link-local addresses are refused")
	}
	return u.String(), nil
}

func validEvents(events []string) ([]string, error) {
	if len(events) == 0 {
		return nil, apperr.Input("events", "name at least one event type")
	}
	var out []string
	for _, e := range events {
		if !slices.Contains(EventTypes, e) {
			return nil, apperr.Input("events", fmt.Sprintf("unknown event type %q (known: %s)", e, strings.Join(EventTypes, ", ")))
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// CreateEndpoint registers a webhook endpoint (administrators) and returns its secret, shown once.
func (s *Service) CreateEndpoint(ctx context.Context, in EndpointInput) (*EndpointSecret, error) {
	id, err := requireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	if in.URL == nil {
		return nil, apperr.Input("url", "required")
	}
	u, err := s.validURL(*in.URL)
	if err != nil {
		return nil, err
	}
	events, err := validEvents(in.Events)
	if err != nil {
		return nil, err
	}
	desc := ""
	if in.Description != nil {
		if desc, err = apperr.Text("description", *in.Description, 0, 200); err != nil {
			return nil, err
		}
	}
	now := s.clock.Now()
	ep := &model.WebhookEndpoint{
		ID: model.NewID(), URL: u, Description: desc, Events: events, Active: true, Secret: NewSecret(),
		CreatedBy: id.Actor().Login, CreatedAt: now, UpdatedAt: now,
	}
	if err := store.Conn(ctx, s.db).Create(ep).Error; err != nil {
		return nil, fmt.Errorf("create webhook endpoint: %w", err)
	}
	return &EndpointSecret{Endpoint: ep, Secret: ep.Secret}, nil
}

func (s *Service) endpoint(ctx context.Context, id string) (*model.WebhookEndpoint, error) {
	var ep model.WebhookEndpoint
	err := store.Conn(ctx, s.db).Where("id = ? AND deleted_at IS NULL", id).Take(&ep).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, apperr.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load webhook endpoint %s: %w", id, err)
	}
	return &ep, nil
}

// Endpoints lists the endpoints that are not deleted, oldest first (administrators).
func (s *Service) Endpoints(ctx context.Context) ([]*model.WebhookEndpoint, error) {
	if _, err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	var out []*model.WebhookEndpoint
	if err := s.db.WithContext(ctx).Where("deleted_at IS NULL").Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list webhook endpoints: %w", err)
	}
	return out, nil
}

// UpdateEndpoint changes an endpoint's URL, events, description or active flag (administrators).
func (s *Service) UpdateEndpoint(ctx context.Context, in EndpointInput) (*model.WebhookEndpoint, error) {
	if _, err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	ep, err := s.endpoint(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	if in.URL != nil {
		if ep.URL, err = s.validURL(*in.URL); err != nil {
			return nil, err
		}
	}
	if in.Events != nil {
		if ep.Events, err = validEvents(in.Events); err != nil {
			return nil, err
		}
	}
	if in.Description != nil {
		if ep.Description, err = apperr.Text("description", *in.Description, 0, 200); err != nil {
			return nil, err
		}
	}
	if in.Active != nil {
		ep.Active = *in.Active
	}
	ep.UpdatedAt = s.clock.Now()
	if err := store.Conn(ctx, s.db).Select("url", "events", "description", "active", "updated_at").Updates(ep).Error; err != nil {
		return nil, fmt.Errorf("update webhook endpoint %s: %w", ep.ID, err)
	}
	return ep, nil
}

// RotateSecret gives the endpoint a new secret, returned once; the old one keeps signing alongside it
// (two signatures in webhook-signature) for the overlap window, so receivers can switch over.
func (s *Service) RotateSecret(ctx context.Context, id string) (*EndpointSecret, error) {
	if _, err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	ep, err := s.endpoint(ctx, id)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	until := now.Add(s.opt.SecretOverlap)
	ep.PreviousSecret, ep.PreviousValidUntil, ep.Secret, ep.UpdatedAt = ep.Secret, &until, NewSecret(), now
	if err := store.Conn(ctx, s.db).Select("secret", "previous_secret", "previous_valid_until", "updated_at").Updates(ep).Error; err != nil {
		return nil, fmt.Errorf("rotate webhook secret %s: %w", ep.ID, err)
	}
	return &EndpointSecret{Endpoint: ep, Secret: ep.Secret}, nil
}

// DeleteEndpoint removes an endpoint: it gets no more events, and its open deliveries are dropped
// (marked DEAD). Its delivery history stays readable.
func (s *Service) DeleteEndpoint(ctx context.Context, id string) (bool, error) {
	if _, err := requireAdmin(ctx); err != nil {
		return false, err
	}
	ep, err := s.endpoint(ctx, id)
	if err != nil {
		return false, err
	}
	now := s.clock.Now()
	db := store.Conn(ctx, s.db)
	if err := db.Model(&model.WebhookEndpoint{}).Where("id = ?", ep.ID).
		Updates(map[string]any{"deleted_at": now, "active": false, "secret": "", "previous_secret": "", "updated_at": now}).Error; err != nil {
		return false, fmt.Errorf("delete webhook endpoint %s: %w", ep.ID, err)
	}
	if err := db.Model(&model.WebhookDelivery{}).Where("endpoint_id = ? AND status IN ?", ep.ID, []string{StatusPending, StatusFailed}).
		Updates(map[string]any{"status": StatusDead, "last_error": "endpoint deleted", "updated_at": now}).Error; err != nil {
		return false, fmt.Errorf("drop deliveries of %s: %w", ep.ID, err)
	}
	return true, nil
}

// Deliveries lists webhook deliveries, newest first, optionally of one endpoint or status
// (administrators).
func (s *Service) Deliveries(ctx context.Context, endpointID, status *string, page store.PageArgs) (*model.WebhookDeliveryConnection, error) {
	if _, err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	q := s.db.WithContext(ctx).Model(&model.WebhookDelivery{}).Where("channel = ?", ChannelWebhook)
	if endpointID != nil {
		q = q.Where("endpoint_id = ?", *endpointID)
	}
	if status != nil {
		q = q.Where("status = ?", *status)
	}
	conn, err := store.Page(ctx, q, page, true, func(d *model.WebhookDelivery) string { return d.ID })
	if err != nil {
		return nil, fmt.Errorf("list webhook deliveries: %w", err)
	}
	return conn, s.fillTypes(ctx, conn.Edges)
}

func (s *Service) fillTypes(ctx context.Context, edges []*model.WebhookDeliveryEdge) error {
	ids := make([]string, 0, len(edges))
	for _, e := range edges {
		ids = append(ids, e.Node.EventID)
	}
	if len(ids) == 0 {
		return nil
	}
	var evs []model.OutboxEvent
	if err := s.db.WithContext(ctx).Select("id", "type").Where("id IN ?", ids).Find(&evs).Error; err != nil {
		return fmt.Errorf("load event types: %w", err)
	}
	types := map[string]string{}
	for _, e := range evs {
		types[e.ID] = e.Type
	}
	for _, e := range edges {
		e.Node.EventType = types[e.Node.EventID]
	}
	return nil
}

// Retry puts a DEAD or FAILED delivery back in the queue for an attempt now, with its attempts
// counted afresh (administrators). A delivered one is CONFLICT.
func (s *Service) Retry(ctx context.Context, id string) (*model.WebhookDelivery, error) {
	if _, err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	db := store.Conn(ctx, s.db)
	var d model.WebhookDelivery
	err := db.Where("id = ? AND channel = ?", id, ChannelWebhook).Take(&d).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, apperr.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load delivery %s: %w", id, err)
	}
	if d.Status == StatusDelivered {
		return nil, apperr.New(apperr.Conflict, "this delivery was already delivered").WithReason("DELIVERED")
	}
	if d.EndpointID != nil {
		if _, err := s.endpoint(ctx, *d.EndpointID); err != nil {
			return nil, apperr.New(apperr.Conflict, "the endpoint was deleted").WithReason("ENDPOINT_DELETED")
		}
	}
	now := s.clock.Now()
	d.Status, d.Attempts, d.NextAttemptAt, d.LeaseUntil, d.UpdatedAt = StatusPending, 0, now, nil, now
	if err := db.Select("status", "attempts", "next_attempt_at", "lease_until", "updated_at").Updates(&d).Error; err != nil {
		return nil, fmt.Errorf("retry delivery %s: %w", id, err)
	}
	s.fillOne(ctx, &d)
	return &d, nil
}

func (s *Service) fillOne(ctx context.Context, d *model.WebhookDelivery) {
	edges := []*model.WebhookDeliveryEdge{{Node: d}}
	if err := s.fillTypes(ctx, edges); err != nil {
		s.log.Warn().Err(err).Msg("load event type")
	}
}

// EndpointByID returns an endpoint that is not deleted, or nil (for a delivery's endpoint field).
func (s *Service) EndpointByID(ctx context.Context, id string) (*model.WebhookEndpoint, error) {
	ep, err := s.endpoint(ctx, id)
	if errors.Is(err, apperr.ErrNotFound) {
		return nil, nil
	}
	return ep, err
}

package integrations_test

import (
	"testing"

	"behalf/apperr"
	"behalf/config"
	"behalf/integrations"
	"behalf/internal/dbtest"

	"gorm.io/gorm"
)

// TestEndpointValidation: URL and events are checked; private targets are refused unless allowed.
func TestEndpointValidation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		t.Parallel()
		strict := newFixture(t, db, func(c *config.Config) { c.WebhookAllowPrivate = false })
		for _, in := range []integrations.EndpointInput{
			{URL: ptr("http://127.0.0.1:9/h"), Events: []string{"order.placed"}},
			{URL: ptr("http://localhost/h"), Events: []string{"order.placed"}},
			{URL: ptr("http://169.254.169.254/latest"), Events: []string{"order.placed"}},
			{URL: ptr("ftp://example.com/h"), Events: []string{"order.placed"}},
			{URL: ptr("https://user:pw@example.com/h"), Events: []string{"order.placed"}},
			{URL: ptr("https://example.com/h"), Events: []string{"order.shipped"}},
			{URL: ptr("https://example.com/h"), Events: nil},
		} {
			if _, err := strict.svc.CreateEndpoint(strict.admin, in); apperr.CodeOf(err) != apperr.BadUserInput {
				t.Errorf("create %s %v: %v, want BAD_USER_INPUT", *in.URL, in.Events, err)
			}
		}
		ep, err := strict.svc.CreateEndpoint(strict.admin, integrations.EndpointInput{URL: ptr("https://erp.example.com/h"), Events: []string{"order.placed", "order.placed"}})
		if err != nil || len(ep.Endpoint.Events) != 1 {
			t.Fatalf("create a public endpoint: %+v %v", ep, err)
		}
	})
}

// TestEndpointActiveAndDelete: an inactive endpoint keeps what was queued for it until reactivated
// (and gets no new events meanwhile); deleting one
// drops its open deliveries and its secret.
func TestEndpointActiveAndDelete(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		t.Parallel()
		f := newFixture(t, db)
		rcv := newReceiver(t)
		ep := f.endpoint(t, rcv, "session.revoked")
		f.emit(t)
		if _, err := f.svc.UpdateEndpoint(f.admin, integrations.EndpointInput{ID: ep.Endpoint.ID, Active: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		if n := deliverAll(t, f.svc); n != 0 {
			t.Fatalf("an inactive endpoint was sent %d", n)
		}
		if _, err := f.svc.UpdateEndpoint(f.admin, integrations.EndpointInput{ID: ep.Endpoint.ID, Active: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		if n := deliverAll(t, f.svc); n != 1 {
			t.Fatalf("reactivated endpoint: %d attempts", n)
		}
		rcv.failNext(1)
		f.emit(t)
		deliverAll(t, f.svc) // fails once: FAILED, open
		if ok, err := f.svc.DeleteEndpoint(f.admin, ep.Endpoint.ID); !ok || err != nil {
			t.Fatalf("delete: %v", err)
		}
		if dead := f.deliveries(t, ptr(integrations.StatusDead)); len(dead) != 1 || dead[0].LastError != "endpoint deleted" {
			t.Fatalf("open delivery after delete: %+v", dead)
		}
		eps, err := f.svc.Endpoints(f.admin)
		if err != nil || len(eps) != 0 {
			t.Fatalf("endpoints after delete: %+v %v", eps, err)
		}
		var secret string
		if err := db.Table("webhook_endpoints").Where("id = ?", ep.Endpoint.ID).Pluck("secret", &secret).Error; err != nil || secret != "" {
			t.Errorf("secret kept after delete: %q %v", secret, err)
		}
		if _, err := f.svc.RotateSecret(f.admin, ep.Endpoint.ID); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("rotating a deleted endpoint: %v", err)
		}
	})
}

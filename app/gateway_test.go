package app_test

import (
	"io"
	"testing"

	"behalf/app"
	"behalf/config"
	"behalf/internal/clock"
	"behalf/internal/dbtest"
	"behalf/model"

	"github.com/rs/zerolog"
)

// TestTestCardGatewayOffInProduction: the test card gateway (made-up tokens succeed) is refused in
// production unless BEHALF_TEST_CARD_GATEWAY=true; invoices always work.
func TestTestCardGatewayOffInProduction(t *testing.T) {
	t.Parallel()
	db := dbtest.SQLite(t)
	for _, tc := range []struct {
		env  map[string]string
		card bool
	}{
		{map[string]string{}, true},
		{map[string]string{"BEHALF_ENV": "production"}, false},
		{map[string]string{"BEHALF_ENV": "production", "BEHALF_TEST_CARD_GATEWAY": "true"}, true},
		{map[string]string{"BEHALF_TEST_CARD_GATEWAY": "false"}, false},
	} {
		cfg, err := config.Load(nil, func(k string) string { return tc.env[k] }, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		a := app.New(cfg, db, zerolog.Nop(), clock.Real{})
		if a.Commerce.Accepts(model.PaymentCard) != tc.card || !a.Commerce.Accepts(model.PaymentInvoice) {
			t.Errorf("%v: card accepted %v, want %v", tc.env, a.Commerce.Accepts(model.PaymentCard), tc.card)
		}
	}
}

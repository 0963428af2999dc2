package telemetry

import (
	"context"
	"testing"
)

// TestTracingIsOffUnlessAsked checks which OTEL_* settings turn tracing on; nothing is exported.
func TestTracingIsOffUnlessAsked(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env     map[string]string
		on, bad bool
	}{
		{env: nil},
		{env: map[string]string{"OTEL_SERVICE_NAME": "shop"}},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, on: true},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, on: true},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, on: true},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"}},
		{env: map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, bad: true},
	} {
		on, err := Enabled(func(k string) string { return tc.env[k] })
		if on != tc.on || (err != nil) != tc.bad {
			t.Errorf("%v: on %v err %v; want on %v, error %v", tc.env, on, err, tc.on, tc.bad)
		}
	}
	tp, shutdown, err := Setup(context.Background(), func(string) string { return "" }, "test")
	if tp != nil || err != nil || shutdown(context.Background()) != nil {
		t.Errorf("Setup without OTEL_* settings: %v %v, want no provider", tp, err)
	}
}

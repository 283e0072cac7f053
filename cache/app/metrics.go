package app

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// storeCollector exposes every store's counters on Caddy's metrics registry.
// It reads the stores' own atomic counters at scrape time, so registering a
// fresh collector on each config load (Caddy gives each config its own
// registry) neither resets nor double-counts anything.
type storeCollector struct{ app *App }

var (
	metricDescs = map[string]*prometheus.Desc{}
	metricNames = []struct{ name, help string }{
		{"hits_total", "Requests answered from the cache while fresh."},
		{"misses_total", "Requests that found no usable entry and went upstream."},
		{"stale_serves_total", "Requests answered with a stale entry (soft invalidation, stale-while-revalidate, stale-if-error)."},
		{"revalidations_total", "Conditional requests sent upstream to revalidate an entry."},
		{"stores_total", "Responses stored."},
		{"uncacheable_total", "Responses that could not be stored."},
		{"invalidations_total", "Invalidation requests recorded."},
		{"invalidated_tags_total", "Tags and paths invalidated."},
		{"entries", "Entries held in memory."},
		{"bytes", "Bytes held in memory, as weighed for the budget."},
		{"max_bytes", "The memory budget in bytes."},
		{"tag_records", "Tag records held by the tag clock."},
		{"tag_record_bytes", "What the tag clock's records weigh, in bytes."},
		{"refresh_failures_total", "Background refreshes that failed (origin broke off or timed out, or a handler panicked)."},
		{"flights", "Upstream fills in progress."},
		{"backend_trusted", "1 when entries may be served as fresh, 0 while the invalidation feed is lost beyond its bound."},
	}
)

func init() {
	for _, m := range metricNames {
		metricDescs[m.name] = prometheus.NewDesc(
			prometheus.BuildFQName("caddy", "tag_cache", m.name), m.help, []string{"store"}, nil)
	}
}

func registerMetrics(ctx caddy.Context, a *App) error {
	reg := ctx.GetMetricsRegistry()
	if reg == nil {
		return nil
	}
	return reg.Register(storeCollector{app: a})
}

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range metricDescs {
		ch <- d
	}
}

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	for _, name := range c.app.StoreNames() {
		st := c.app.stores[name].Stats()
		trusted := 0.0
		if st.Backend.Trusted {
			trusted = 1
		}
		values := map[string]struct {
			v float64
			t prometheus.ValueType
		}{
			"hits_total":             {float64(st.Hits), prometheus.CounterValue},
			"misses_total":           {float64(st.Misses), prometheus.CounterValue},
			"stale_serves_total":     {float64(st.StaleServes), prometheus.CounterValue},
			"revalidations_total":    {float64(st.Revalidations), prometheus.CounterValue},
			"stores_total":           {float64(st.Stores), prometheus.CounterValue},
			"uncacheable_total":      {float64(st.Uncacheable), prometheus.CounterValue},
			"invalidations_total":    {float64(st.Invalidations), prometheus.CounterValue},
			"invalidated_tags_total": {float64(st.InvalidatedTags), prometheus.CounterValue},
			"entries":                {float64(st.Entries), prometheus.GaugeValue},
			"bytes":                  {float64(st.Bytes), prometheus.GaugeValue},
			"max_bytes":              {float64(st.MaxBytes), prometheus.GaugeValue},
			"tag_records":            {float64(st.TagRecords), prometheus.GaugeValue},
			"tag_record_bytes":       {float64(st.TagRecordBytes), prometheus.GaugeValue},
			"refresh_failures_total": {float64(st.RefreshFailures), prometheus.CounterValue},
			"flights":                {float64(st.Flights), prometheus.GaugeValue},
			"backend_trusted":        {trusted, prometheus.GaugeValue},
		}
		for metric, val := range values {
			ch <- prometheus.MustNewConstMetric(metricDescs[metric], val.t, val.v, name)
		}
	}
}

package cache

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestPolicyJudge(t *testing.T) {
	now := time.Now()
	date := now.UTC().Format(http.TimeFormat)
	tests := []struct {
		name     string
		policy   Policy
		reqHdr   http.Header
		status   int
		header   http.Header
		storable bool
		lifetime time.Duration
		reason   string
	}{
		{name: "s-maxage beats max-age", status: 200, header: http.Header{"Cache-Control": {"max-age=10, s-maxage=100"}}, storable: true, lifetime: 100 * time.Second},
		{name: "max-age beats Expires", status: 200, header: http.Header{"Cache-Control": {"max-age=10"}, "Date": {date}, "Expires": {now.Add(time.Hour).UTC().Format(http.TimeFormat)}}, storable: true, lifetime: 10 * time.Second},
		{name: "Expires minus Date", status: 200, header: http.Header{"Date": {date}, "Expires": {now.Add(time.Hour).UTC().Format(http.TimeFormat)}}, storable: true, lifetime: time.Hour},
		{name: "heuristic from Last-Modified", status: 200, header: http.Header{"Date": {date}, "Last-Modified": {now.Add(-100 * time.Hour).UTC().Format(http.TimeFormat)}}, storable: true, lifetime: 10 * time.Hour},
		{name: "no freshness, no validators", status: 200, header: http.Header{}, reason: "no-freshness"},
		{name: "heuristic not for 201", status: 201, header: http.Header{"Last-Modified": {date}}, reason: "no-freshness"},
		{name: "explicit freshness for unknown status", status: 599, header: http.Header{"Cache-Control": {"max-age=60"}}, storable: true, lifetime: time.Minute},
		{name: "must-understand unknown status", status: 599, header: http.Header{"Cache-Control": {"max-age=60, must-understand"}}, reason: "must-understand"},
		{name: "private", status: 200, header: http.Header{"Cache-Control": {"private, max-age=60"}}, reason: "private"},
		{name: "no-store", status: 200, header: http.Header{"Cache-Control": {"No-Store, max-age=60"}}, reason: "no-store"},
		{name: "set-cookie refused by default", status: 200, header: http.Header{"Cache-Control": {"max-age=60"}, "Set-Cookie": {"a=b"}}, reason: "set-cookie"},
		{name: "set-cookie allowed", policy: Policy{AllowSetCookie: true}, status: 200, header: http.Header{"Cache-Control": {"max-age=60"}, "Set-Cookie": {"a=b"}}, storable: true, lifetime: time.Minute},
		{name: "authorization without permission", reqHdr: http.Header{"Authorization": {"Bearer x"}}, status: 200, header: http.Header{"Cache-Control": {"max-age=60"}}, reason: "authorization"},
		{name: "authorization with public", reqHdr: http.Header{"Authorization": {"Bearer x"}}, status: 200, header: http.Header{"Cache-Control": {"public, max-age=60"}}, storable: true, lifetime: time.Minute},
		{name: "vary star", status: 200, header: http.Header{"Cache-Control": {"max-age=60"}, "Vary": {"Accept, *"}}, reason: "vary-star"},
		{name: "quoted max-age ignored", status: 200, header: http.Header{"Cache-Control": {`extension="max-age=3600", max-age=1`}}, storable: true, lifetime: time.Second},
		{name: "CDN-Cache-Control wins", policy: Policy{TargetedFields: []string{"CDN-Cache-Control"}}, status: 200, header: http.Header{"Cache-Control": {"no-store"}, "Cdn-Cache-Control": {"max-age=30"}}, storable: true, lifetime: 30 * time.Second},
		{name: "force ttl", policy: Policy{ForceTTL: time.Hour}, status: 200, header: http.Header{"Cache-Control": {"no-cache, max-age=0"}}, storable: true, lifetime: time.Hour},
		{name: "force ttl keeps private out", policy: Policy{ForceTTL: time.Hour}, status: 200, header: http.Header{"Cache-Control": {"private"}}, reason: "private"},
		{name: "huge max-age saturates", status: 200, header: http.Header{"Cache-Control": {"max-age=99999999999"}}, storable: true, lifetime: maxDelta},
		{name: "partial content", status: 206, header: http.Header{"Cache-Control": {"max-age=60"}}, reason: "status"},
		{name: "request no-store", reqHdr: http.Header{"Cache-Control": {"no-store"}}, status: 200, header: http.Header{"Cache-Control": {"max-age=60"}}, reason: "request-no-store"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "http://example.com/", nil)
			for k, vs := range tt.reqHdr {
				r.Header[k] = vs
			}
			d := tt.policy.Judge(r, Anonymous, tt.status, tt.header, now)
			if d.Storable != tt.storable {
				t.Fatalf("storable = %v (reason %q), want %v", d.Storable, d.Reason, tt.storable)
			}
			if tt.storable && d.Lifetime != tt.lifetime {
				t.Fatalf("lifetime = %v, want %v", d.Lifetime, tt.lifetime)
			}
			if !tt.storable && d.Reason != tt.reason {
				t.Fatalf("reason = %q, want %q", d.Reason, tt.reason)
			}
		})
	}
}

func TestEntryAge(t *testing.T) {
	base := time.Unix(1_700_000_000, 0)
	e := &Entry{
		RequestTime:  base,
		ResponseTime: base.Add(2 * time.Second),
		DateValue:    base.Add(-10 * time.Second), // origin clock behind: apparent age 12s
		AgeValue:     30 * time.Second,            // corrected age 32s wins
	}
	if got := e.Age(base.Add(5 * time.Second)); got != 35*time.Second {
		t.Fatalf("age = %v, want 35s (32s corrected initial age + 3s resident)", got)
	}
}

package integration

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-bff/caddy-bff/internal/testharness"
)

// Secrets of the vendor test, one per preset, in each vendor's format.
var (
	vendorStripeSecret     = "whsec_caddybff_stripe_0123456789"
	vendorStandardSecret   = "whsec_" + base64.StdEncoding.EncodeToString([]byte("caddy-bff standard webhooks key!"))
	vendorGitHubSecret     = "caddy-bff github secret"
	vendorSanitySecret     = "caddy-bff sanity secret"
	vendorContentfulSecret = strings.Repeat("cf0123456789abcd", 4) // exactly 64 characters
	vendorShopifySecret    = "shpss_caddybff0123456789"
)

// vendorJob is one delivery for .ci/node/vendor-sign.mjs to sign.
type vendorJob struct {
	Vendor    string         `json:"vendor"`
	Secret    string         `json:"secret"`
	Body      string         `json:"body"`
	Timestamp int64          `json:"timestamp"`
	ID        string         `json:"id"`
	Method    string         `json:"method"`
	Path      string         `json:"path"`
	Headers   map[string]any `json:"headers,omitempty"`
	send      string         // body sent, when it differs from the signed one
	query     string         // query string added to the path when sent
	status    int            // expected status
	tags      []string       // expected tags of a 200
	what      string         // what the step shows, for the report
}

// TestWebhookVendorSDKs sends deliveries signed by each vendor's official
// SDK from npm to a Caddy with one revalidate_webhook per preset, and checks
// that genuine deliveries are accepted (with their tags split as the
// vendor stores them) and copies, tampered bodies, stale timestamps and
// unsigned queries are refused.
func TestWebhookVendorSDKs(t *testing.T) {
	dir := testharness.NodeDir(t)
	port := testharness.FreePort(t)
	testharness.StartInProcess(t, fmt.Sprintf(`
http://127.0.0.1:%d {
	handle /stripe {
		revalidate_webhook {
			secret %s
			signature stripe
			tags_from data.object.metadata.cache_tags
		}
	}
	handle /standard {
		revalidate_webhook {
			secret %s
			signature standard_webhooks
		}
	}
	handle /github {
		revalidate_webhook {
			secret "%s"
			signature github
			tags_from repository.name
		}
	}
	handle /sanity {
		revalidate_webhook {
			secret "%s"
			signature sanity
			tags_from _type
		}
	}
	handle /contentful {
		revalidate_webhook {
			secret %s
			signature contentful
			tags_from sys.contentType.sys.id
		}
	}
	handle /shopify {
		revalidate_webhook {
			secret %s
			signature shopify
			tags_from tags
		}
	}
}`, port, vendorStripeSecret, vendorStandardSecret, vendorGitHubSecret, vendorSanitySecret, vendorContentfulSecret, vendorShopifySecret), "caddyfile")
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	now := time.Now().Unix()

	stripeBody := func(evt string) string {
		return `{"id":"` + evt + `","object":"event","type":"product.updated","data":{"object":{"id":"prod_1","object":"product","metadata":{"cache_tags":"posts,products"}}}}`
	}
	ghBody := func(sha string) string {
		return `{"ref":"refs/heads/main","after":"` + sha + `","repository":{"name":"docs","full_name":"acme/docs"}}`
	}
	sanityBody := func(id string) string { return `{"_id":"` + id + `","_type":"post","slug":{"current":"hello"}}` }
	cfBody := func(id string) string {
		return `{"sys":{"id":"` + id + `","type":"Entry","contentType":{"sys":{"type":"Link","linkType":"ContentType","id":"blogPost"}}}}`
	}
	shopBody := func(id int) string {
		return `{"id":` + strconv.Itoa(id) + `,"title":"Example T-Shirt","handle":"example-t-shirt","tags":"posts, summer-sale"}`
	}
	cfHeaders := map[string]any{"x-contentful-topic": "ContentManagement.Entry.publish", "content-type": "application/vnd.contentful.management.v1+json"}

	jobs := []*vendorJob{
		// stripe
		{Vendor: "stripe", Secret: vendorStripeSecret, Body: stripeBody("evt_1"), Timestamp: now, Path: "/stripe", status: 200, tags: []string{"posts", "products"}, what: "genuine delivery, metadata.cache_tags split"},
		{Vendor: "stripe", Secret: vendorStripeSecret, Body: stripeBody("evt_1"), Timestamp: now, Path: "/stripe", status: 409, what: "the same delivery again"},
		{Vendor: "stripe", Secret: vendorStripeSecret, Body: stripeBody("evt_2"), Timestamp: now, Path: "/stripe", send: stripeBody("evt_3"), status: 401, what: "tampered body"},
		{Vendor: "stripe", Secret: vendorStripeSecret, Body: stripeBody("evt_4"), Timestamp: now - 600, Path: "/stripe", status: 401, what: "timestamp 10 minutes old"},
		{Vendor: "stripe", Secret: vendorStripeSecret, Body: stripeBody("evt_5"), Timestamp: now, Path: "/stripe", query: "?tag=home", status: 200, tags: []string{"home", "posts", "products"}, what: "query tags with a signed timestamp"},
		// standard webhooks: the standardwebhooks SDK and Svix's (svix-* headers)
		{Vendor: "standardwebhooks", Secret: vendorStandardSecret, Body: `{"tags":["posts"]}`, Timestamp: now, ID: "msg_1", Path: "/standard", status: 200, tags: []string{"posts"}, what: "genuine delivery (webhook-* headers)"},
		{Vendor: "standardwebhooks", Secret: vendorStandardSecret, Body: `{"tags":["posts"]}`, Timestamp: now, ID: "msg_1", Path: "/standard", status: 409, what: "the same delivery again"},
		{Vendor: "svix", Secret: vendorStandardSecret, Body: `{"tags":["pages"]}`, Timestamp: now, ID: "msg_2", Path: "/standard", status: 200, tags: []string{"pages"}, what: "genuine delivery (svix-* headers, as Clerk and Resend send)"},
		{Vendor: "svix", Secret: vendorStandardSecret, Body: `{"tags":["pages"]}`, Timestamp: now, ID: "msg_2", Path: "/standard", status: 409, what: "the same svix delivery again"},
		{Vendor: "svix", Secret: vendorStandardSecret, Body: `{"tags":["x"]}`, Timestamp: now - 600, ID: "msg_3", Path: "/standard", status: 401, what: "timestamp 10 minutes old"},
		{Vendor: "standardwebhooks", Secret: vendorStandardSecret, Body: `{"tags":["x"]}`, Timestamp: now, ID: "msg_4", Path: "/standard", send: `{"tags":["y"]}`, status: 401, what: "tampered body"},
		// github
		{Vendor: "github", Secret: vendorGitHubSecret, Body: ghBody("a1"), ID: "gh-1", Path: "/github", status: 200, tags: []string{"docs"}, what: "genuine push delivery"},
		{Vendor: "github", Secret: vendorGitHubSecret, Body: ghBody("a1"), ID: "gh-1", Path: "/github", status: 409, what: "the same delivery again"},
		{Vendor: "github", Secret: vendorGitHubSecret, Body: ghBody("a2"), ID: "gh-2", Path: "/github", query: "?tag=everything,home&path=/", status: 400, what: "unsigned ?tag=everything,home&path=/"},
		{Vendor: "github", Secret: vendorGitHubSecret, Body: ghBody("a2"), ID: "gh-2", Path: "/github", status: 200, tags: []string{"docs"}, what: "that delivery without the query (not consumed by the 400)"},
		{Vendor: "github", Secret: vendorGitHubSecret, Body: ghBody("a3"), ID: "gh-3", Path: "/github", send: ghBody("a4"), status: 401, what: "tampered body"},
		// sanity
		{Vendor: "sanity", Secret: vendorSanitySecret, Body: sanityBody("p1"), Timestamp: now, ID: "idem-1", Path: "/sanity", status: 200, tags: []string{"post"}, what: "genuine delivery"},
		{Vendor: "sanity", Secret: vendorSanitySecret, Body: sanityBody("p1"), Timestamp: now, ID: "idem-1", Path: "/sanity", status: 409, what: "the same delivery again"},
		{Vendor: "sanity", Secret: vendorSanitySecret, Body: sanityBody("p2"), Timestamp: now - 20*60, ID: "idem-2", Path: "/sanity", status: 200, tags: []string{"post"}, what: "a retry carrying its first attempt's signature from 20 minutes ago"},
		{Vendor: "sanity", Secret: vendorSanitySecret, Body: sanityBody("p2"), Timestamp: now - 20*60, ID: "idem-2", Path: "/sanity", status: 409, what: "that retry again"},
		{Vendor: "sanity", Secret: vendorSanitySecret, Body: sanityBody("p3"), Timestamp: now - 40*60, ID: "idem-3", Path: "/sanity", status: 401, what: "timestamp 40 minutes old"},
		{Vendor: "sanity", Secret: vendorSanitySecret, Body: sanityBody("p4"), Timestamp: now, ID: "idem-4", Path: "/sanity", send: sanityBody("p5"), status: 401, what: "tampered body"},
		// contentful
		{Vendor: "contentful", Secret: vendorContentfulSecret, Body: cfBody("e1"), Timestamp: now, Method: "POST", Path: "/contentful", Headers: cfHeaders, status: 200, tags: []string{"blogPost"}, what: "genuine delivery"},
		{Vendor: "contentful", Secret: vendorContentfulSecret, Body: cfBody("e1"), Timestamp: now, Method: "POST", Path: "/contentful", Headers: cfHeaders, status: 409, what: "the same delivery again"},
		{Vendor: "contentful", Secret: vendorContentfulSecret, Body: cfBody("e2"), Timestamp: now - 600, Method: "POST", Path: "/contentful", Headers: cfHeaders, status: 401, what: "timestamp 10 minutes old"},
		{Vendor: "contentful", Secret: vendorContentfulSecret, Body: cfBody("e3"), Timestamp: now, Method: "POST", Path: "/contentful", Headers: cfHeaders, send: cfBody("e4"), status: 401, what: "tampered body"},
		// shopify
		{Vendor: "shopify", Secret: vendorShopifySecret, Body: shopBody(1), ID: "wh-1", Path: "/shopify", status: 200, tags: []string{"posts", "summer-sale"}, what: "genuine delivery (X-Shopify-Hmac-Sha256), tags string split"},
		{Vendor: "shopify", Secret: vendorShopifySecret, Body: shopBody(1), ID: "wh-1", Path: "/shopify", status: 409, what: "its retry (same X-Shopify-Webhook-Id)"},
		{Vendor: "shopify", Secret: vendorShopifySecret, Body: shopBody(1), ID: "wh-2", Path: "/shopify", status: 200, tags: []string{"posts", "summer-sale"}, what: "a second delivery with the same body (new webhook id)"},
		{Vendor: "shopify", Secret: vendorShopifySecret, Body: shopBody(2), ID: "ev-1", Path: "/shopify", Headers: map[string]any{"events": true}, status: 200, tags: []string{"posts", "summer-sale"}, what: "Events delivery (Shopify-Hmac-Sha256, shopify-event-id)"},
		{Vendor: "shopify", Secret: vendorShopifySecret, Body: shopBody(2), ID: "ev-1", Path: "/shopify", Headers: map[string]any{"events": true}, status: 409, what: "its retry"},
		{Vendor: "shopify", Secret: vendorShopifySecret, Body: shopBody(3), ID: "wh-3", Path: "/shopify", query: "?tag=everything", status: 400, what: "unsigned ?tag=everything"},
		{Vendor: "shopify", Secret: vendorShopifySecret, Body: shopBody(4), ID: "wh-4", Path: "/shopify", send: shopBody(5), status: 401, what: "tampered body"},
	}
	in, _ := json.Marshal(jobs)
	var out []struct {
		Version string            `json:"version"`
		Headers map[string]string `json:"headers"`
	}
	if err := json.Unmarshal(testharness.RunNode(t, dir, "vendor-sign.mjs", in, 2*time.Minute), &out); err != nil || len(out) != len(jobs) {
		t.Fatalf("vendor-sign.mjs: %v (%d answers for %d jobs)", err, len(out), len(jobs))
	}

	type summary struct {
		sdk               string
		accepted, refused []string
	}
	sums := map[string]*summary{}
	var order []string
	for i, job := range jobs {
		sdk := sdkName(job.Vendor) + "@" + out[i].Version
		s := sums[sdk]
		if s == nil {
			s = &summary{sdk: sdk}
			sums[sdk] = s
			order = append(order, sdk)
		}
		body := job.Body
		if job.send != "" {
			body = job.send
		}
		opts := []reqOpt{withBody(body)}
		for k, v := range out[i].Headers {
			opts = append(opts, withHeader(k, v))
		}
		r := send(t, http.DefaultClient, http.MethodPost, base+job.Path+job.query, opts...)
		raw := r.body
		if r.status != job.status {
			t.Errorf("%s: %s: status %d, want %d; body %s", sdk, job.what, r.status, job.status, raw)
			continue
		}
		var got struct {
			Tags  []string `json:"tags"`
			Error string   `json:"error"`
		}
		if err := json.Unmarshal([]byte(raw), &got); err != nil {
			t.Errorf("%s: %s: body is not JSON: %s", sdk, job.what, raw)
			continue
		}
		if job.status == http.StatusOK {
			slices.Sort(got.Tags)
			if !slices.Equal(got.Tags, job.tags) {
				t.Errorf("%s: %s: tags %q, want %q", sdk, job.what, got.Tags, job.tags)
			}
			s.accepted = append(s.accepted, job.what)
		} else {
			if got.Error == "" {
				t.Errorf("%s: %s: %d without a precise error message: %s", sdk, job.what, job.status, raw)
			}
			s.refused = append(s.refused, fmt.Sprintf("%s (%d)", job.what, job.status))
		}
	}
	for _, sdk := range order {
		s := sums[sdk]
		t.Logf("%s\n    accepted: %s\n    refused:  %s", s.sdk, strings.Join(s.accepted, "; "), strings.Join(s.refused, "; "))
	}
}

func sdkName(vendor string) string {
	switch vendor {
	case "github":
		return "@octokit/webhooks-methods"
	case "sanity":
		return "@sanity/webhook"
	case "contentful":
		return "@contentful/node-apps-toolkit"
	case "shopify":
		return "@shopify/shopify-api"
	}
	return vendor
}

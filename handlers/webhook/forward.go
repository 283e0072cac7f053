package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/caddy-bff/caddy-bff/internal/passthrough"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// With Forward, the webhook fronts the app's own revalidate route (a
// Next.js route handler calling revalidateTag): an authenticated, valid
// call is passed to the next handler in the route, normally reverse_proxy
// to the app, and recorded in the cache only once the app answered 2xx.

// webhookUpstreamBodyLimit bounds what is kept of the app's answer: the
// first 64 KiB are embedded in the reply, the rest is read and dropped.
const webhookUpstreamBodyLimit = 64 << 10

// upstreamReply is what the caller learns of the app's answer.
type upstreamReply struct {
	// Status is the app's status, or the status of the error the next
	// handler returned without answering (reverse_proxy's 502 when the
	// app cannot be reached).
	Status int `json:"status"`
	// Body is the app's body: its JSON value when it is JSON, else the text
	// (null when the next handler answered nothing).
	Body any `json:"body"`
	// Truncated is set when the body was longer than the limit: Body then
	// holds its first bytes, as a string.
	Truncated bool `json:"truncated,omitempty"`
}

// forward passes an authenticated, validated call to next and reports the
// app's answer. It returns res unchanged (status 0) when the app answered
// 2xx, so that the caller records the invalidation; anything else is a 502
// and nothing may be recorded.
//
// The order matters and is the point of the option: the app revalidates
// first, then Caddy records. Had Caddy purged first, a request arriving
// before the app has revalidated would miss, fetch the app's still-cached
// old page and store it again after the purge, fresh for its whole
// lifetime. In this order, a request arriving between the app's answer and
// Caddy's record stores the app's new page, at worst one fetch too many.
//
// body is the request body as the webhook read it (read is false when it
// did not read it: a GET authenticated by token), and reaches the app byte
// for byte.
func (h *Handler) forward(r *http.Request, body []byte, read bool, next caddyhttp.Handler, res webhookResult) webhookResult {
	fail := func(msg string) webhookResult {
		res.status, res.outcome, res.msg = http.StatusBadGateway, outcomeUpstreamFailed, msg
		return res
	}
	if next == nil {
		return fail(noAnswerMsg)
	}
	// The mark tells a tag_cache later in the route to let the call
	// through unstored: a stored "revalidated" answer would keep the next
	// CMS call from reaching the app.
	fr := passthrough.Mark(r, "revalidate_webhook")
	if read {
		// The body was consumed for the signature or the tags: the app
		// gets the same bytes from a fresh reader, with their length
		// known (a chunked request arrives with a Content-Length).
		fr.Body = http.NoBody
		if len(body) > 0 {
			fr.Body = io.NopCloser(bytes.NewReader(body))
		}
		fr.ContentLength = int64(len(body))
		fr.TransferEncoding = nil
		if len(body) > 0 || r.Header.Get("Content-Length") != "" {
			fr.Header.Set("Content-Length", strconv.Itoa(len(body)))
		}
		fr.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	// The webhook reads the app's answer, the caller does not: ask for it
	// uncompressed so its JSON can be embedded.
	fr.Header.Del("Accept-Encoding")

	capture := newUpstreamCapture(webhookUpstreamBodyLimit)
	err := next.ServeHTTP(capture, fr)
	if err != nil {
		// Nothing usable came back: reverse_proxy could not reach the app
		// (its 502, 504), or a handler failed. The error may name internal
		// hosts: it is logged, never sent.
		status := http.StatusInternalServerError
		var he caddyhttp.HandlerError
		if errors.As(err, &he) && he.StatusCode != 0 {
			status = he.StatusCode
		}
		res.cause = err
		res.upstream = &upstreamReply{Status: status}
		return fail(fmt.Sprintf("forwarding to the app failed: the next handler returned status %d %s without an answer; nothing was recorded", status, http.StatusText(status)))
	}
	status := capture.Status()
	if status == 0 {
		// Caddy's chain ends in a handler that writes nothing: with no
		// handler after the webhook, that is what answers. It must not
		// pass for an empty 200.
		return fail(noAnswerMsg)
	}
	res.upstream = capture.reply()
	if status < 200 || status > 299 {
		return fail(fmt.Sprintf("the app answered %d %s, not 2xx; nothing was recorded", status, http.StatusText(status)))
	}
	return res
}

// noAnswerMsg is the 502 of a forwarded call nothing answered.
const noAnswerMsg = "forward is on, but nothing after revalidate_webhook in this route answered (put reverse_proxy to the app after it); nothing was recorded"

// upstreamCapture is what the next handler writes to: a buffered
// ResponseRecorder over a writer of its own, so neither the app's status
// nor its headers (Set-Cookie, CORS, Location...) reach the caller, with
// the body kept up to a limit and the rest counted and dropped.
type upstreamCapture struct {
	caddyhttp.ResponseRecorder
	limit int
	total int64
}

func newUpstreamCapture(limit int) *upstreamCapture {
	// Header() of a recorder is its underlying writer's header map: a
	// detached writer keeps the app's headers away from the caller's.
	rec := caddyhttp.NewResponseRecorder(&detachedWriter{header: make(http.Header)}, new(bytes.Buffer),
		func(int, http.Header) bool { return true })
	return &upstreamCapture{ResponseRecorder: rec, limit: limit}
}

// Write keeps what fits under the limit and reports every byte written,
// so the app's response is read to its end whatever its size.
func (c *upstreamCapture) Write(p []byte) (int, error) {
	c.total += int64(len(p))
	room := max(c.limit-c.Buffer().Len(), 0)
	if _, err := c.ResponseRecorder.Write(p[:min(len(p), room)]); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Unwrap lets http.ResponseController reach the recorder, whose Flush does
// nothing on a buffered response.
func (c *upstreamCapture) Unwrap() http.ResponseWriter { return c.ResponseRecorder }

// reply is the app's answer as the caller sees it.
func (c *upstreamCapture) reply() *upstreamReply {
	body := c.Buffer().Bytes()
	up := &upstreamReply{Status: c.Status(), Truncated: c.total > int64(len(body))}
	if !up.Truncated && json.Valid(body) {
		up.Body = json.RawMessage(body)
		return up
	}
	if up.Truncated {
		// Cut at a character boundary; the JSON encoder replaces any other
		// invalid UTF-8.
		for range utf8.UTFMax - 1 {
			if r, size := utf8.DecodeLastRune(body); len(body) == 0 || r != utf8.RuneError || size > 1 {
				break
			}
			body = body[:len(body)-1]
		}
	}
	up.Body = string(body)
	return up
}

// detachedWriter is a ResponseWriter connected to nothing: the recorder
// buffers the final response and only 1xx reach it, to be dropped.
type detachedWriter struct{ header http.Header }

func (d *detachedWriter) Header() http.Header         { return d.header }
func (d *detachedWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *detachedWriter) WriteHeader(int)             {}

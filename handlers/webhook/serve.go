package webhook

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-bff/caddy-bff/cache"
	"github.com/caddy-bff/caddy-bff/internal/jsonreply"
	"github.com/caddy-bff/caddy-bff/internal/methods"
)

// Outcomes of a call, as logged.
const (
	outcomeRevalidated  = "revalidated"
	outcomeOptions      = "options"
	outcomeMethod       = "method_not_allowed"
	outcomeUnauthorized = "unauthorized"
	outcomeReplayed     = "replayed"
	outcomeBadRequest   = "bad_request"
	outcomeBodyTooLarge = "body_too_large"
	outcomeNotRecorded  = "not_recorded"
	// outcomeUpstreamFailed: forwarded, and the app did not answer 2xx.
	outcomeUpstreamFailed = "upstream_failed"
)

const (
	// sourceWebhook tells the app's logs and events who invalidated.
	sourceWebhook = "webhook"
	// webhookLogMessage is the message of the one log line per call.
	webhookLogMessage = "revalidate_webhook"
	// webhookUnavailableMsg is all a caller learns of a backend failure:
	// the cause may name internal hosts and is only logged.
	webhookUnavailableMsg = "the cache could not record the invalidation; retry later"
	// webhookForwardedUnavailableMsg is the 503 of a forwarded call the app
	// answered 2xx: retrying makes the app revalidate once more, which is
	// harmless.
	webhookForwardedUnavailableMsg = "the app revalidated, but the cache could not record the invalidation (Caddy still serves what it cached); retry later"
)

// webhookResult is what one call came to: the answer to write and what to
// log about it.
type webhookResult struct {
	status  int
	outcome string
	msg     string
	auth    string
	tags    []string
	paths   []string
	mode    cache.Mode
	clock   uint64
	cause   error // why the cache did not record it; logged, never sent
	// upstream is the app's answer to a forwarded call.
	upstream *upstreamReply
}

// webhookSuccess is the 200 body: {"success":true} as the Next.js route
// handler answers, plus Next.js' `revalidated` and `now` (ms), and what was
// invalidated how.
type webhookSuccess struct {
	Success     bool       `json:"success"`
	Revalidated bool       `json:"revalidated"`
	Now         int64      `json:"now"`
	Mode        cache.Mode `json:"mode"`
	Tags        []string   `json:"tags"`
	Paths       []string   `json:"paths"`
	// Upstream is the app's answer when the call was forwarded.
	Upstream *upstreamReply `json:"upstream,omitempty"`
}

// webhookProblem is an error body: jsonreply.Problem's shape, plus the
// app's answer when the call was forwarded.
type webhookProblem struct {
	Success  bool           `json:"success"`
	Error    string         `json:"error"`
	Upstream *upstreamReply `json:"upstream,omitempty"`
}

// ServeHTTP answers one call. It calls next only with Forward, to pass a
// valid call to the app; otherwise a webhook is terminal. Either way the
// answer is the webhook's own.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	start := h.now()
	// Set first so that every answer, including OPTIONS, 405 and errors
	// that flow through handle_errors, carries it.
	w.Header().Set("Cache-Control", "no-store")

	var res webhookResult
	var err error
	if handled, merr := h.methods.Handle(w, r); handled {
		res = webhookResult{status: http.StatusMethodNotAllowed, outcome: outcomeMethod, mode: h.Mode}
		if r.Method == http.MethodOptions {
			res.status, res.outcome = http.StatusNoContent, outcomeOptions
		}
		err = merr
	} else {
		res = h.process(w, r, next)
		err = h.reply(w, r, res)
	}
	h.logCall(r, res, h.now().Sub(start))
	return err
}

// process authenticates the call, gathers what it asks to invalidate,
// forwards it to the app when Forward is set, and records it.
func (h *Handler) process(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) webhookResult {
	now := h.now()
	res := webhookResult{mode: h.Mode}
	fail := func(status int, outcome, format string, args ...any) webhookResult {
		res.status, res.outcome, res.msg = status, outcome, fmt.Sprintf(format, args...)
		return res
	}
	// A malformed query is reported after authentication (401 comes before
	// 400, as in the Next.js route handler); the values parsed so far still
	// serve to find the token.
	q, queryErr := url.ParseQuery(r.URL.RawQuery)

	var body []byte
	var bodyRead bool
	read := func() bool {
		var err error
		body, err = h.readBody(w, r)
		bodyRead = true
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			fail(http.StatusRequestEntityTooLarge, outcomeBodyTooLarge, "body is larger than %d bytes", h.MaxBodySize)
		case err != nil:
			fail(http.StatusBadRequest, outcomeBadRequest, "reading body: %v", err)
		}
		return err == nil
	}

	var claimed string
	if h.verifier != nil {
		// The signature covers the raw body: read it before anything else.
		if !read() {
			return res
		}
		res.auth = "signature:" + h.Signature.Preset
		id, err := h.verifier.Verify(r, body, now)
		if err != nil {
			return fail(http.StatusUnauthorized, outcomeUnauthorized, "%s", err.Error())
		}
		if !h.Signature.Timestamped() && !h.Signature.AllowUnsignedQuery {
			if names := unsignedQueryParams(q); len(names) > 0 {
				return fail(http.StatusBadRequest, outcomeBadRequest,
					"the %s signature does not cover the query string: %s cannot be chosen by it (allow_unsigned_query is off); put them in the signed body", h.Signature.Preset, strings.Join(names, ", "))
			}
		}
		fresh, err := h.replay.claim(r.Context(), id, now)
		if err != nil {
			res.cause = err
			return fail(http.StatusServiceUnavailable, outcomeNotRecorded, webhookUnavailableMsg)
		}
		if !fresh {
			return fail(http.StatusConflict, outcomeReplayed, "this delivery was already processed")
		}
		claimed = id
	} else {
		token, source := h.presentedToken(r, q)
		res.auth = source
		if token == "" {
			return fail(http.StatusUnauthorized, outcomeUnauthorized, "missing token")
		}
		if !h.secretDigest.Matches(token) {
			return fail(http.StatusUnauthorized, outcomeUnauthorized, "invalid token")
		}
		// Only authenticated callers get their body read.
		if r.Method == http.MethodPost {
			if !read() {
				return res
			}
		}
	}

	// A bad request is refused here, before anything reaches the app.
	res = h.gather(q, queryErr, body, res)
	if res.status == 0 && h.Forward {
		res = h.forward(r, body, bodyRead, next, res)
	}
	if res.status == 0 {
		res = h.record(r, res)
	}
	if res.status != http.StatusOK && claimed != "" {
		// Not acknowledged: let the sender's retry of this delivery through.
		h.replay.release(r.Context(), claimed)
	}
	return res
}

// unsignedQueryParams lists the query parameters that choose what is
// invalidated, in a fixed order.
func unsignedQueryParams(q url.Values) []string {
	var names []string
	for _, name := range []string{"tag", "path", "mode"} {
		if _, ok := q[name]; ok {
			names = append(names, name)
		}
	}
	return names
}

// readBody reads the whole body, refusing one larger than MaxBodySize with
// an *http.MaxBytesError.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return io.ReadAll(http.MaxBytesReader(w, r.Body, h.MaxBodySize))
}

// gather collects and checks the tags, paths and mode of an authenticated
// call into res. It leaves res.status 0 when they are valid, and sets a 400
// otherwise.
func (h *Handler) gather(q url.Values, queryErr error, body []byte, res webhookResult) webhookResult {
	fail := func(status int, outcome, msg string) webhookResult {
		res.status, res.outcome, res.msg = status, outcome, msg
		return res
	}
	if queryErr != nil {
		return fail(http.StatusBadRequest, outcomeBadRequest, "malformed query string")
	}
	var ir invalidationRequest
	if err := ir.fromQuery(q); err != nil {
		return fail(http.StatusBadRequest, outcomeBadRequest, err.Error())
	}
	if len(body) > 0 && !h.IgnoreBody {
		if len(h.tagsPaths) > 0 || len(h.pathsPaths) > 0 {
			tags, paths, err := parsePayload(body, h.tagsPaths, h.pathsPaths)
			if err != nil {
				return fail(http.StatusBadRequest, outcomeBadRequest, err.Error())
			}
			ir.tags = append(ir.tags, tags...)
			ir.paths = append(ir.paths, paths...)
		} else {
			nb, err := parseNativeBody(body)
			if err != nil {
				return fail(http.StatusBadRequest, outcomeBadRequest, err.Error())
			}
			ir.tags = append(ir.tags, nb.Tags...)
			ir.paths = append(ir.paths, nb.Paths...)
			if nb.Mode != "" {
				if ir.mode != "" && ir.mode != nb.Mode {
					return fail(http.StatusBadRequest, outcomeBadRequest, "the query and the body ask for different modes")
				}
				ir.mode = nb.Mode
			}
		}
	}
	if ir.mode != "" {
		if !ir.mode.Valid() {
			return fail(http.StatusBadRequest, outcomeBadRequest, "mode must be "+cache.ModeNames)
		}
		if ir.mode != h.Mode && !h.AllowModeOverride {
			return fail(http.StatusBadRequest, outcomeBadRequest, fmt.Sprintf("this endpoint only invalidates in mode %q (allow_mode_override is off)", h.Mode))
		}
		res.mode = ir.mode
	}
	res.tags, res.paths = dedupe(ir.tags), dedupe(ir.paths)
	for i, tag := range res.tags {
		if err := checkCarryable(i, tag); err != nil {
			return fail(http.StatusBadRequest, outcomeBadRequest, err.Error())
		}
	}
	n := len(res.tags) + len(res.paths)
	switch {
	case n == 0:
		return fail(http.StatusBadRequest, outcomeBadRequest, "at least one tag or path is required")
	case n > h.MaxItems:
		return fail(http.StatusBadRequest, outcomeBadRequest, fmt.Sprintf("too many tags and paths: %d, at most %d", n, h.MaxItems))
	}
	if err := cache.ValidateInvalidation(res.tags, res.paths, res.mode); err != nil {
		return fail(http.StatusBadRequest, outcomeBadRequest, err.Error())
	}
	return res
}

// reply writes the answer of a processed call.
func (h *Handler) reply(w http.ResponseWriter, r *http.Request, res webhookResult) error {
	if res.status == http.StatusOK {
		return jsonreply.Write(w, http.StatusOK, webhookSuccess{
			Success:     true,
			Revalidated: true,
			Now:         h.now().UnixMilli(),
			Mode:        res.mode,
			Tags:        nonNilStrings(res.tags),
			Paths:       nonNilStrings(res.paths),
			Upstream:    res.upstream,
		})
	}
	switch res.status {
	case http.StatusUnauthorized:
		if h.verifier == nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="revalidate_webhook"`)
		}
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", webhookRetryAfter)
	}
	return jsonreply.Fail(w, r, res.status, webhookProblem{Success: false, Error: res.msg, Upstream: res.upstream})
}

// logCall writes the one log line of a call: outcome and counts, never the
// secret, a token or a signature.
func (h *Handler) logCall(r *http.Request, res webhookResult, took time.Duration) {
	level := zapcore.InfoLevel
	switch {
	case res.status >= 500:
		level = zapcore.ErrorLevel
	case res.status == http.StatusUnauthorized || res.status == http.StatusConflict:
		level = zapcore.WarnLevel
	}
	ce := h.logger.Check(level, webhookLogMessage)
	if ce == nil {
		return
	}
	fields := []zap.Field{
		zap.String("outcome", res.outcome),
		zap.Int("status", res.status),
		zap.String("method", methods.Name(r.Method)),
		zap.String("remote_ip", remoteIP(r)),
		zap.String("auth", res.auth),
		zap.Int("tags", len(res.tags)),
		zap.Int("paths", len(res.paths)),
		zap.String("mode", string(res.mode)),
		zap.Duration("duration", took),
	}
	if res.clock != 0 {
		fields = append(fields, zap.Uint64("clock", res.clock))
	}
	if res.upstream != nil {
		fields = append(fields, zap.Int("upstream_status", res.upstream.Status))
	}
	if res.msg != "" {
		fields = append(fields, zap.String("error", res.msg))
	}
	if res.cause != nil {
		fields = append(fields, zap.NamedError("cause", res.cause))
	}
	ce.Write(fields...)
}

// remoteIP is the peer address without the port.
func remoteIP(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

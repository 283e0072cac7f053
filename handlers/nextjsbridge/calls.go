package nextjsbridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/caddy-bff/caddy-bff/cache"
	"github.com/caddy-bff/caddy-bff/internal/jsonreply"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

// bridgeRevalidation is the body of a revalidate call.
type bridgeRevalidation struct {
	Tags []string   `json:"tags"`
	Mode cache.Mode `json:"mode,omitempty"`
}

// bridgeTagQuery is the body of a tags call.
type bridgeTagQuery struct {
	Tags []string `json:"tags"`
}

// bridgeTagAnswer answers a tags call.
type bridgeTagAnswer struct {
	Success bool                      `json:"success"`
	Tags    map[string]cache.TagTimes `json:"tags"`
	// Forgotten: an entry generated before this moment (unix ms) may have
	// missed an invalidation the clock no longer holds.
	Forgotten int64 `json:"forgotten"`
	Now       int64 `json:"now"`
}

// ServeHTTP answers one bridge call: a POST with the bearer secret, to a
// path whose last element names the call.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	w.Header().Set("Cache-Control", "no-store")
	if handled, err := h.methods.Handle(w, r); handled {
		return err
	}
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="caddy-bff nextjs_bridge"`)
		return jsonreply.Failf(w, r, http.StatusUnauthorized, "missing or invalid bearer token")
	}
	name := path.Base(r.URL.Path)
	call, ok := bridgeCalls[name]
	if !ok {
		return jsonreply.Failf(w, r, http.StatusNotFound, "unknown bridge call "+fmt.Sprintf("%q", name)+"; the calls are revalidate, tags and pages")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.MaxBodySize))
	if err != nil {
		return h.failBody(w, r, err)
	}
	return call(h, w, r, body)
}

// bridgeCalls are the calls, by the last element of the request path.
var bridgeCalls = map[string]func(h *Handler, w http.ResponseWriter, r *http.Request, body []byte) error{
	"revalidate": (*Handler).revalidate,
	"tags":       (*Handler).tags,
	"pages":      (*Handler).pages,
}

// failBody answers a call whose body could not be read: too large, or cut
// short.
func (h *Handler) failBody(w http.ResponseWriter, r *http.Request, err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return jsonreply.Failf(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", h.MaxBodySize))
	}
	return jsonreply.Failf(w, r, http.StatusBadRequest, "reading body: "+err.Error())
}

func (h *Handler) authorized(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return ok && strings.EqualFold(scheme, "Bearer") && token != "" && h.secretDigest.Matches(token)
}

// decodeStrict decodes a JSON object, refusing unknown fields so a typo in
// a hand-written client fails loudly.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// revalidate records tags Next revalidated, answering once they are
// recorded where every instance sees them.
func (h *Handler) revalidate(w http.ResponseWriter, r *http.Request, body []byte) error {
	var req bridgeRevalidation
	if err := decodeStrict(body, &req); err != nil {
		return jsonreply.Failf(w, r, http.StatusBadRequest, "invalid revalidate body: "+err.Error())
	}
	clock, err := h.app.Invalidate(r.Context(), cache.Invalidation{Store: h.Store, Tags: req.Tags, Mode: req.Mode, Source: "nextjs_bridge"})
	if err != nil {
		return h.failRecord(w, r, err)
	}
	return jsonreply.Write(w, http.StatusOK, map[string]any{"success": true, "clock": clock, "now": time.Now().UnixMilli()})
}

// tags answers when tags were last invalidated, so Next can judge its
// own entries by the shared clock.
func (h *Handler) tags(w http.ResponseWriter, r *http.Request, body []byte) error {
	var req bridgeTagQuery
	if err := decodeStrict(body, &req); err != nil {
		return jsonreply.Failf(w, r, http.StatusBadRequest, "invalid tags body: "+err.Error())
	}
	if err := checkTags(req.Tags, cache.MaxInvalidationItems); err != nil {
		return jsonreply.Failf(w, r, http.StatusBadRequest, err.Error())
	}
	times, forgotten, trusted := h.store.TagTimes(req.Tags)
	if !trusted {
		w.Header().Set("Retry-After", "1")
		return jsonreply.Failf(w, r, http.StatusServiceUnavailable, "this instance cannot vouch for its tag clock (its invalidation feed is lost); treat entries as expired")
	}
	return jsonreply.Write(w, http.StatusOK, bridgeTagAnswer{Success: true, Tags: times, Forgotten: forgotten, Now: time.Now().UnixMilli()})
}

// pages records the tags a page Next stored or read depends on, and when
// it was generated.
func (h *Handler) pages(w http.ResponseWriter, r *http.Request, body []byte) error {
	var rep cache.PageReport
	if err := decodeStrict(body, &rep); err != nil {
		return jsonreply.Failf(w, r, http.StatusBadRequest, "invalid pages body: "+err.Error())
	}
	if err := cache.ValidateInvalidation(nil, []string{rep.Path}, cache.ModeExpire); err != nil {
		return jsonreply.Failf(w, r, http.StatusBadRequest, "path: "+err.Error())
	}
	if err := checkTags(rep.Tags, cache.MaxTagsPerEntry); err != nil {
		return jsonreply.Failf(w, r, http.StatusBadRequest, err.Error())
	}
	if rep.Generated <= 0 {
		return jsonreply.Failf(w, r, http.StatusBadRequest, "generated must be a positive unix time in milliseconds")
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := h.store.LearnPage(ctx, rep); err != nil {
		h.logger.Error("page report not recorded", zap.String("path", rep.Path), zap.Error(err))
		w.Header().Set("Retry-After", "1")
		return jsonreply.Failf(w, r, http.StatusServiceUnavailable, "the page's tags could not be recorded; the bridge must not let Next serve it as cached")
	}
	return jsonreply.Write(w, http.StatusOK, map[string]any{"success": true})
}

// failRecord answers an invalidation the cache refused or could not record.
func (h *Handler) failRecord(w http.ResponseWriter, r *http.Request, err error) error {
	var invalid *cache.InvalidRequestError
	if errors.As(err, &invalid) {
		return jsonreply.Failf(w, r, http.StatusBadRequest, invalid.Msg)
	}
	h.logger.Error("bridge revalidation not recorded", zap.Error(err))
	w.Header().Set("Retry-After", "1")
	return jsonreply.Failf(w, r, http.StatusServiceUnavailable, "the invalidation could not be recorded; Next must not acknowledge it")
}

// checkTags validates a list of tags from a request.
func checkTags(tags []string, most int) error {
	if len(tags) == 0 {
		return errors.New("at least one tag is required")
	}
	if len(tags) > most {
		return fmt.Errorf("too many tags: %d, at most %d", len(tags), most)
	}
	for i, tag := range tags {
		if err := cache.CheckTag(tag); err != nil {
			return fmt.Errorf("tag %d: %v", i, err)
		}
	}
	return nil
}

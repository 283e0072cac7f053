package webhook

import (
	"context"
	"errors"
	"net/http"

	"github.com/caddy-bff/caddy-bff/cache"
)

// record has the cache record what gather collected, and turns the cache's
// answer into the call's result.
func (h *Handler) record(r *http.Request, res webhookResult) webhookResult {
	clock, err := h.invalidate(recordingContext(r, res), res)
	if err != nil {
		return notRecorded(res, err)
	}
	res.status, res.outcome, res.clock = http.StatusOK, outcomeRevalidated, clock
	return res
}

// recordingContext is the context the invalidation is recorded in: the
// request's, detached from its cancellation once the app has revalidated
// (a forwarded call), because Caddy's half must then follow even if the
// caller hung up meanwhile, or the two caches would disagree until the CMS
// retries.
func recordingContext(r *http.Request, res webhookResult) context.Context {
	if res.upstream != nil {
		return context.WithoutCancel(r.Context())
	}
	return r.Context()
}

// invalidate asks the cache to record the tags, paths and mode of res,
// returning once they are recorded, with the cache's clock.
func (h *Handler) invalidate(ctx context.Context, res webhookResult) (uint64, error) {
	return h.invalidator.Invalidate(ctx, cache.Invalidation{
		Store:  h.Store,
		Tags:   res.tags,
		Paths:  res.paths,
		Mode:   res.mode,
		Source: sourceWebhook,
	})
}

// notRecorded is the result of an invalidation the cache did not record:
// 400 when it refused the request itself, else 503, so that the sender
// retries. The cause of a 503 may name internal hosts: it is logged, never
// sent.
func notRecorded(res webhookResult, err error) webhookResult {
	var invalid *cache.InvalidRequestError
	if errors.As(err, &invalid) {
		res.status, res.outcome, res.msg = http.StatusBadRequest, outcomeBadRequest, invalid.Msg
		return res
	}
	res.cause = err
	res.status, res.outcome, res.msg = http.StatusServiceUnavailable, outcomeNotRecorded, webhookUnavailableMsg
	if res.upstream != nil {
		res.msg = webhookForwardedUnavailableMsg
	}
	return res
}

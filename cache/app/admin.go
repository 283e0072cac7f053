package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-bff/caddy-bff/cache"
)

// AdminAPI is the `admin.api.tag_cache` module: routes on Caddy's admin
// endpoint to revalidate tags and paths, read the stores' stats and flush
// entries.
//
//	POST   /tag_cache/revalidate  {"tags":[...],"paths":[...],"mode":"expire|stale","store":"..."}
//	GET    /tag_cache/stats
//	DELETE /tag_cache/entries[?store=<name>]
type AdminAPI struct{}

// CaddyModule returns the Caddy module information.
func (AdminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.tag_cache",
		New: func() caddy.Module { return new(AdminAPI) },
	}
}

// maxAdminBody bounds the revalidate request body.
const maxAdminBody = 1 << 20

// Routes returns the admin routes.
func (a *AdminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: "/tag_cache/revalidate", Handler: caddy.AdminHandlerFunc(a.revalidate)},
		{Pattern: "/tag_cache/stats", Handler: caddy.AdminHandlerFunc(a.stats)},
		{Pattern: "/tag_cache/entries", Handler: caddy.AdminHandlerFunc(a.entries)},
	}
}

func (a *AdminAPI) revalidate(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		return methodNotAllowed(w, http.MethodPost)
	}
	app, err := runningApp()
	if err != nil {
		return err
	}
	var inv cache.Invalidation
	dec := json.NewDecoder(io.LimitReader(r.Body, maxAdminBody+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&inv); err != nil {
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("decoding request body: %v", err)}
	}
	if dec.More() {
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: errors.New("request body holds more than one JSON value")}
	}
	inv.Source = "admin"
	if inv.Mode == "" {
		inv.Mode = cache.ModeExpire
	}
	clock, err := app.Invalidate(r.Context(), inv)
	var bad *cache.InvalidRequestError
	switch {
	case errors.As(err, &bad):
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: err}
	case err != nil:
		w.Header().Set("Retry-After", "1")
		return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: fmt.Errorf("invalidation not recorded: %v", err)}
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"success": true,
		"revalidated": map[string]any{
			"tags":  nonNil(inv.Tags),
			"paths": nonNil(inv.Paths),
		},
		"mode":  inv.Mode,
		"clock": clock,
	})
}

func (a *AdminAPI) stats(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed(w, http.MethodGet)
	}
	app, err := runningApp()
	if err != nil {
		return err
	}
	stores := make([]cache.Stats, 0, len(app.stores))
	for _, name := range app.StoreNames() {
		stores = append(stores, app.stores[name].Stats())
	}
	return writeJSON(w, http.StatusOK, map[string]any{"stores": stores})
}

func (a *AdminAPI) entries(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodDelete {
		return methodNotAllowed(w, http.MethodDelete)
	}
	app, err := runningApp()
	if err != nil {
		return err
	}
	names := app.StoreNames()
	if name := r.URL.Query().Get("store"); name != "" {
		if _, err := app.Store(name); err != nil {
			return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: err}
		}
		names = []string{name}
	}
	flushed := 0
	for _, name := range names {
		flushed += app.stores[name].Flush()
	}
	return writeJSON(w, http.StatusOK, map[string]any{"success": true, "flushed": flushed})
}

// runningApp returns the tag_cache app of the running config.
func runningApp() (*App, error) {
	app, err := caddy.ActiveContext().AppIfConfigured("tag_cache")
	if err != nil || app == nil {
		return nil, caddy.APIError{HTTPStatus: http.StatusNotFound, Err: errors.New("the tag_cache app is not configured")}
	}
	return app.(*App), nil
}

func methodNotAllowed(w http.ResponseWriter, allow string) error {
	w.Header().Set("Allow", allow)
	return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method not allowed; use %s", allow)}
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

var _ caddy.AdminRouter = (*AdminAPI)(nil)

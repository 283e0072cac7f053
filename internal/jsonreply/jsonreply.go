// Package jsonreply writes the JSON answers every caddy-bff handler gives:
// successes and the 4xx/5xx errors with their stable shape. It decides how an
// error reaches the client: when the server has `handle_errors` routes the
// error is returned to Caddy (status intact, the JSON body available as
// `{err.message}`), otherwise the JSON body is written directly.
package jsonreply

import (
	"encoding/json"
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// Write writes body as JSON with the given status. It sets
// `Content-Type: application/json` and `X-Content-Type-Options: nosniff`;
// headers the caller set on w before are kept.
func Write(w http.ResponseWriter, status int, body any) error {
	buf, err := json.Marshal(body)
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	w.WriteHeader(status)
	if status == http.StatusNoContent || status == http.StatusNotModified {
		return nil
	}
	_, err = w.Write(append(buf, '\n'))
	return err
}

// Error is a handler error whose message is the JSON body the client gets.
type Error struct {
	// Body is the JSON text of the answer.
	Body string
}

// Error returns the JSON body, which is what `{err.message}` shows in
// handle_errors.
func (e Error) Error() string { return e.Body }

// Fail answers an error with status and the JSON body. When the server has
// error routes (`handle_errors`), it returns a caddyhttp.HandlerError carrying
// the status and the JSON text, so the user's error routes decide the answer
// (`respond {err.message} {err.status_code}` reproduces the default); headers
// already set on w, such as Retry-After or WWW-Authenticate, stay. Otherwise
// it writes the JSON body itself and returns nil.
func Fail(w http.ResponseWriter, r *http.Request, status int, body any) error {
	if hasErrorRoutes(r) {
		buf, err := json.Marshal(body)
		if err != nil {
			return caddyhttp.Error(http.StatusInternalServerError, err)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		return caddyhttp.Error(status, Error{Body: string(buf)})
	}
	return Write(w, status, body)
}

// Problem is the stable shape of the module's error bodies where no seed
// shape is imposed: {"success":false,"error":"<precise message>"}.
type Problem struct {
	Success bool   `json:"success"`
	Error   string `json:"error"`
}

// Failf answers status with a Problem body holding msg.
func Failf(w http.ResponseWriter, r *http.Request, status int, msg string) error {
	return Fail(w, r, status, Problem{Success: false, Error: msg})
}

func hasErrorRoutes(r *http.Request) bool {
	srv, ok := r.Context().Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server)
	return ok && srv != nil && srv.Errors != nil && len(srv.Errors.Routes) > 0
}

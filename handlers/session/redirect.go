package session

import (
	"fmt"
	"net/http"

	"github.com/caddy-bff/caddy-bff/internal/jsonreply"
	"github.com/caddy-bff/caddy-bff/internal/redirect"
)

// What to do with a redirect target the policy refuses.
const (
	// OnInvalidDefault sends the browser to the default target.
	OnInvalidDefault = "default"
	// OnInvalidReject answers 400 with a JSON body.
	OnInvalidReject = "reject"
)

// Redirect says where session_callback and session_logout send the browser
// once done. The target comes from a query parameter and must be a
// same-origin path or a URL on the request's own origin or on one of
// `allowed_origins`. In the Caddyfile each field is an option of the
// handler's block named `redirect_` and the field's JSON key:
// `redirect_param`, `redirect_allowed_origins`, and so on.
type Redirect struct {
	// The origins a redirect target may point to (`allowed_origins`) and
	// where to go when the target is missing or refused (`default`).
	redirect.Policy

	// The query parameter holding the requested target.
	// Default: `redirect_url`.
	Param string `json:"param,omitempty"`

	// The redirect status: 302, 303 or 307. Default: 307 for
	// session_callback (as Next.js's NextResponse.redirect), 303 for
	// session_logout (so a POST logout is followed by a GET).
	Status int `json:"status,omitempty"`

	// What happens when the requested target is refused: `default` (go to
	// `default`) or `reject` (answer 400 with a JSON body). A missing
	// parameter always goes to `default`. Default: `default`.
	OnInvalid string `json:"on_invalid,omitempty"`
}

// provision fills in defaults and checks the settings.
func (s *Redirect) provision(defaultStatus int) error {
	if s.Param == "" {
		s.Param = "redirect_url"
	}
	if s.Status == 0 {
		s.Status = defaultStatus
	}
	switch s.Status {
	case http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect:
	default:
		return fmt.Errorf("redirect status %d: must be 302, 303 or 307", s.Status)
	}
	switch s.OnInvalid {
	case "":
		s.OnInvalid = OnInvalidDefault
	case OnInvalidDefault, OnInvalidReject:
	default:
		return fmt.Errorf("on_invalid %q: must be %q or %q", s.OnInvalid, OnInvalidDefault, OnInvalidReject)
	}
	if !isQueryName(s.Param) {
		return fmt.Errorf("redirect parameter name %q: must be a non-empty name without spaces, '&', '=', '#' or control characters", s.Param)
	}
	return s.Policy.Provision()
}

// target returns where to send the browser for r. When the requested
// target is refused and OnInvalid is "reject", it answers the request with a
// 400 JSON body itself and returns done=true with the error to hand to Caddy.
func (s *Redirect) target(w http.ResponseWriter, r *http.Request) (to string, done bool, err error) {
	values, present := r.URL.Query()[s.Param]
	if !present {
		return s.DefaultTarget(), false, nil
	}
	if len(values) == 1 {
		if safe, ok := s.Resolve(r, values[0]); ok {
			return safe, false, nil
		}
	}
	// A refused target, or the parameter given more than once (which
	// copies of it a server reads differs between stacks, so neither is
	// trusted).
	if s.OnInvalid == OnInvalidReject {
		return "", true, jsonreply.Failf(w, r, http.StatusBadRequest,
			"the "+s.Param+" parameter is not an allowed redirect target: use a same-origin path or a URL on an allowed origin")
	}
	return s.DefaultTarget(), false, nil
}

// isQueryName reports whether s can be a query parameter name configured by
// the operator.
func isQueryName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '&' || c == '=' || c == '#' || c == '+' || c == '%' {
			return false
		}
	}
	return true
}

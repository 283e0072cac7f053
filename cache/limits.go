package cache

import (
	"fmt"
	"strings"
)

// Bounds on tags, as Next.js sets them.
const (
	// MaxTagLength is the longest tag accepted, in bytes.
	MaxTagLength = 256
	// MaxTagsPerEntry is the most tags one entry carries.
	MaxTagsPerEntry = 128
	// MaxInvalidationItems is the most tags plus paths one invalidation
	// request may name.
	MaxInvalidationItems = 1024
	// MaxPathLength is the longest path accepted in an invalidation.
	MaxPathLength = 2048
)

// InvalidRequestError is an invalidation refused for its content; callers
// answer it with 400.
type InvalidRequestError struct{ Msg string }

func (e *InvalidRequestError) Error() string { return e.Msg }

// ValidateInvalidation checks tags, paths and mode of an invalidation and
// says precisely what is wrong.
func ValidateInvalidation(tags, paths []string, mode Mode) error {
	if !mode.Valid() {
		return &InvalidRequestError{Msg: "mode must be " + ModeNames}
	}
	if len(tags)+len(paths) == 0 {
		return &InvalidRequestError{Msg: "at least one tag or path is required"}
	}
	if n := len(tags) + len(paths); n > MaxInvalidationItems {
		return &InvalidRequestError{Msg: fmt.Sprintf("too many tags and paths: %d, at most %d", n, MaxInvalidationItems)}
	}
	for i, tag := range tags {
		if err := CheckTag(tag); err != nil {
			return &InvalidRequestError{Msg: fmt.Sprintf("tag %d: %v", i, err)}
		}
	}
	for i, p := range paths {
		switch {
		case p == "":
			return &InvalidRequestError{Msg: fmt.Sprintf("path %d is empty", i)}
		case len(p) > MaxPathLength:
			return &InvalidRequestError{Msg: fmt.Sprintf("path %d is %d bytes long, at most %d", i, len(p), MaxPathLength)}
		case !strings.HasPrefix(p, "/"):
			return &InvalidRequestError{Msg: fmt.Sprintf("path %d must start with /", i)}
		case hasControl(p):
			return &InvalidRequestError{Msg: fmt.Sprintf("path %d contains control characters", i)}
		}
	}
	return nil
}

// CheckTag reports what is wrong with a tag, or nil.
func CheckTag(tag string) error {
	switch {
	case tag == "":
		return fmt.Errorf("is empty")
	case len(tag) > MaxTagLength:
		return fmt.Errorf("is %d bytes long, at most %d", len(tag), MaxTagLength)
	case hasControl(tag):
		return fmt.Errorf("contains control characters")
	}
	return nil
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

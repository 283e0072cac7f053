package tagcache

import (
	"bytes"
	"net/http"
	"slices"
)

// fillRecorder captures the response the rest of the route writes during a
// fill. Depending on decide, it streams the response to the client while
// keeping a copy (a miss), or only keeps it (a revalidation that may end in
// a 304 or an error the cache answers itself, or a background refresh).
type fillRecorder struct {
	client http.ResponseWriter
	header http.Header
	// before are the headers handlers before the cache set for this
	// request: part of what the client gets, never part of an entry.
	before http.Header

	// decide is called once the status is known and says whether the
	// response goes to the client as it is written. prepare, when set, may
	// adjust the client's headers just before they are sent.
	decide  func(status int) bool
	prepare func(status int, h http.Header)
	// amend, when set, may change the response's headers before anything
	// reads them: the entry, the storage decision and the client alike
	// (the Next.js profile's Age).
	amend func(status int, h http.Header)

	status     int
	wroteHead  bool
	streaming  bool
	snapshot   http.Header // the headers as the upstream sent them
	body       bytes.Buffer
	limit      int64
	overflowed bool
	written    int64
}

// newFillRecorder starts from the headers already set on the client's
// response by the handlers that ran before tag_cache (such as the `header`
// directive), so they take part in the storage decision exactly as they
// would reach the client.
func newFillRecorder(client http.ResponseWriter, limit int64, decide func(int) bool) *fillRecorder {
	before := client.Header().Clone()
	return &fillRecorder{client: client, header: before.Clone(), before: before, limit: limit, decide: decide}
}

// produced returns the response headers the handlers after the cache
// produced: the snapshot less what was set before the cache. A field the
// later handlers appended to keeps only the appended values; one they
// replaced keeps their values.
func (r *fillRecorder) produced() http.Header {
	if len(r.before) == 0 {
		return r.snapshot
	}
	out := make(http.Header, len(r.snapshot))
	for k, vs := range r.snapshot {
		pre, ok := r.before[k]
		switch {
		case !ok:
			out[k] = vs
		case len(vs) > len(pre) && slices.Equal(vs[:len(pre)], pre):
			out[k] = vs[len(pre):]
		case slices.Equal(vs, pre):
			// Untouched since before the cache: not the entry's.
		default:
			out[k] = vs
		}
	}
	return out
}

func (r *fillRecorder) Header() http.Header { return r.header }

func (r *fillRecorder) WriteHeader(status int) {
	if r.wroteHead {
		return
	}
	if status >= 100 && status < 200 {
		// Informational responses (103 Early Hints) go straight through
		// when streaming is possible; they are never stored.
		if r.client != nil && status != http.StatusSwitchingProtocols {
			copyHeader(r.client.Header(), r.header)
			r.client.WriteHeader(status)
		}
		return
	}
	r.wroteHead = true
	r.status = status
	if r.amend != nil {
		r.amend(status, r.header)
	}
	r.snapshot = r.header.Clone()
	r.streaming = r.client != nil && r.decide != nil && r.decide(status)
	if r.streaming {
		if r.prepare != nil {
			r.prepare(status, r.header)
		}
		copyHeader(r.client.Header(), r.header)
		r.client.WriteHeader(status)
	}
}

func (r *fillRecorder) Write(b []byte) (int, error) {
	if !r.wroteHead {
		r.WriteHeader(http.StatusOK)
	}
	r.written += int64(len(b))
	if !r.overflowed {
		if int64(r.body.Len()+len(b)) > r.limit {
			// Too big to store: drop the copy and keep streaming.
			r.overflowed = true
			r.body = bytes.Buffer{}
		} else {
			r.body.Write(b)
		}
	}
	if r.streaming {
		return r.client.Write(b)
	}
	return len(b), nil
}

// keepNoCopy stops keeping a copy of the body: the response will not be
// stored, so it only streams.
func (r *fillRecorder) keepNoCopy() {
	r.overflowed = true
	r.body = bytes.Buffer{}
}

// Flush passes flushes through only while streaming: a buffered response
// must not reach the client early.
func (r *fillRecorder) Flush() {
	if !r.wroteHead {
		r.WriteHeader(http.StatusOK)
	}
	if r.streaming {
		_ = http.NewResponseController(r.client).Flush()
	}
}

// FlushError is Flush for http.ResponseController.
func (r *fillRecorder) FlushError() error {
	if !r.wroteHead {
		r.WriteHeader(http.StatusOK)
	}
	if r.streaming {
		return http.NewResponseController(r.client).Flush()
	}
	return nil
}

// Unwrap lets http.ResponseController reach the client's connection (for
// deadlines); Flush is intercepted above.
func (r *fillRecorder) Unwrap() http.ResponseWriter {
	if r.client != nil {
		return r.client
	}
	return nil
}

func copyHeader(dst, src http.Header) {
	for k := range dst {
		if _, ok := src[k]; !ok {
			delete(dst, k)
		}
	}
	for k, vs := range src {
		dst[k] = append(dst[k][:0:0], vs...)
	}
}

// discardWriter is the client of a background refresh: nobody is waiting.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header {
	if d.h == nil {
		d.h = make(http.Header)
	}
	return d.h
}
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

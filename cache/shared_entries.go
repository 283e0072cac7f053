package cache

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// sharedEntries is the optional second level of distributed mode: entries
// copied to Redis so an instance can answer what another one fetched. It is
// consulted only after a local miss, so a local HIT never waits on it.
type sharedEntries struct {
	client  *redis.Client
	prefix  string
	maxSize int64
	ttl     time.Duration
	logger  *zap.Logger
	queue   chan *Entry
}

// wireEntry is an entry as stored in Redis.
type wireEntry struct {
	Marker               bool          `json:"marker,omitempty"`
	Key                  string        `json:"key"`
	PrimaryKey           string        `json:"primary"`
	Path                 string        `json:"path"`
	Status               int           `json:"status"`
	Header               http.Header   `json:"header,omitempty"`
	Body                 []byte        `json:"body,omitempty"`
	RequestTime          time.Time     `json:"request_time"`
	ResponseTime         time.Time     `json:"response_time"`
	DateValue            time.Time     `json:"date"`
	AgeValue             time.Duration `json:"age"`
	Lifetime             time.Duration `json:"lifetime"`
	StaleWhileRevalidate time.Duration `json:"swr,omitempty"`
	StaleIfError         time.Duration `json:"sie,omitempty"`
	MustRevalidate       bool          `json:"must_revalidate,omitempty"`
	NoCache              bool          `json:"no_cache,omitempty"`
	AuthorizedReuse      bool          `json:"authorized_reuse,omitempty"`
	Tags                 []string      `json:"tags"`
	Clock                uint64        `json:"clock"`
	VaryNames            []string      `json:"vary,omitempty"`
}

func newSharedEntries(client *redis.Client, prefix string, cfg *SharedEntriesConfig, logger *zap.Logger) *sharedEntries {
	s := &sharedEntries{
		client:  client,
		prefix:  prefix,
		maxSize: cfg.MaxItemSize,
		ttl:     time.Duration(cfg.TTL),
		logger:  logger,
		// Writes are queued and dropped when Redis cannot keep up: the
		// second level is an optimisation and must never slow a response.
		queue: make(chan *Entry, 256),
	}
	if s.maxSize <= 0 {
		s.maxSize = DefaultSharedItemSize
	}
	if s.ttl <= 0 {
		s.ttl = DefaultSharedEntriesTTL
	}
	return s
}

// offer queues e for writing, unless it is too big or the queue is full.
func (s *sharedEntries) offer(e *Entry) {
	if int64(len(e.Body)) > s.maxSize {
		return
	}
	select {
	case s.queue <- e:
	default:
	}
}

// writeLoop writes queued entries until ctx ends.
func (s *sharedEntries) writeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-s.queue:
			ttl := min(s.ttl, e.ttl)
			if ttl <= 0 {
				continue
			}
			pipe := s.client.Pipeline()
			if len(e.VaryNames) > 0 {
				marker, _ := json.Marshal(wireEntry{Marker: true, Key: e.PrimaryKey, PrimaryKey: e.PrimaryKey, VaryNames: e.VaryNames})
				pipe.Set(ctx, s.prefix+e.PrimaryKey, marker, ttl)
			}
			data, err := json.Marshal(toWire(e))
			if err != nil {
				continue
			}
			pipe.Set(ctx, s.prefix+e.Key, data, ttl)
			if _, err := pipe.Exec(ctx); err != nil && ctx.Err() == nil {
				s.logger.Debug("shared entry not written", zap.String("key", e.Key), zap.Error(err))
			}
		}
	}
}

// get returns the shared entry for r, or nil.
func (s *sharedEntries) get(ctx context.Context, r *http.Request) (*Entry, error) {
	primary := PrimaryKey(r)
	w, err := s.read(ctx, primary)
	if err != nil || w == nil {
		return nil, err
	}
	if w.Marker {
		if w, err = s.read(ctx, VariantKey(primary, w.VaryNames, r)); err != nil || w == nil {
			return nil, err
		}
	}
	return fromWire(w), nil
}

func (s *sharedEntries) read(ctx context.Context, key string) (*wireEntry, error) {
	data, err := s.client.Get(ctx, s.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var w wireEntry
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, err
	}
	return &w, nil
}

func toWire(e *Entry) wireEntry {
	return wireEntry{
		Key: e.Key, PrimaryKey: e.PrimaryKey, Path: e.Path, Status: e.Status, Header: e.Header, Body: e.Body,
		RequestTime: e.RequestTime, ResponseTime: e.ResponseTime, DateValue: e.DateValue, AgeValue: e.AgeValue,
		Lifetime: e.Lifetime, StaleWhileRevalidate: e.StaleWhileRevalidate, StaleIfError: e.StaleIfError,
		MustRevalidate: e.MustRevalidate, NoCache: e.NoCache, AuthorizedReuse: e.AuthorizedReuse,
		Tags: e.Tags, Clock: e.Clock, VaryNames: e.VaryNames,
	}
}

func fromWire(w *wireEntry) *Entry {
	return &Entry{
		Key: w.Key, PrimaryKey: w.PrimaryKey, Path: w.Path, Status: w.Status, Header: w.Header, Body: w.Body,
		RequestTime: w.RequestTime, ResponseTime: w.ResponseTime, DateValue: w.DateValue, AgeValue: w.AgeValue,
		Lifetime: w.Lifetime, StaleWhileRevalidate: w.StaleWhileRevalidate, StaleIfError: w.StaleIfError,
		MustRevalidate: w.MustRevalidate, NoCache: w.NoCache, AuthorizedReuse: w.AuthorizedReuse,
		Tags: w.Tags, Clock: w.Clock, VaryNames: w.VaryNames,
	}
}

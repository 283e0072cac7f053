package cache

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func fillStore(tb testing.TB, s *Store, n int, tags []string) {
	tb.Helper()
	now := time.Now()
	for i := range n {
		r := httptest.NewRequest(http.MethodGet, fmt.Sprintf("http://example.com/p/%d", i), nil)
		e := &Entry{
			Key: PrimaryKey(r), PrimaryKey: PrimaryKey(r), Path: r.URL.Path,
			Status: 200, Header: http.Header{"Content-Type": {"text/plain"}}, Body: []byte("x"),
			RequestTime: now, ResponseTime: now, DateValue: now, Reuse: Reuse{Lifetime: time.Hour},
			Tags: append([]string{PathTag(r.URL.Path)}, tags...), Clock: s.clock.Now(),
		}
		if !s.Put(e) {
			tb.Fatalf("entry %d not stored", i)
		}
	}
}

func TestStoreNeverExceedsMaxSize(t *testing.T) {
	const budget = 1 << 20
	s, err := NewStore("bounded", StoreConfig{MaxSize: budget, MaxRetention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now()
	var offered uint64
	for i := range 5000 {
		body := make([]byte, rng.IntN(8<<10))
		e := &Entry{
			Key: fmt.Sprintf("k%d", i), PrimaryKey: fmt.Sprintf("k%d", i), Status: 200,
			Header: http.Header{}, Body: body, RequestTime: now, ResponseTime: now,
			DateValue: now, Reuse: Reuse{Lifetime: time.Hour}, Clock: s.clock.Now(),
		}
		offered += uint64(e.Size())
		s.Put(e)
		if i%100 == 0 {
			s.CleanUp()
			if got := s.Stats().Bytes; got > budget {
				t.Fatalf("after %d puts the store holds %d bytes, budget %d", i+1, got, budget)
			}
		}
	}
	s.CleanUp()
	st := s.Stats()
	if st.Bytes > budget {
		t.Fatalf("store holds %d bytes, budget %d", st.Bytes, budget)
	}
	if offered < 10*budget {
		t.Fatalf("test offered only %d bytes; it must overflow the budget to mean anything", offered)
	}
	if st.Entries == 0 || st.Bytes < budget/4 {
		t.Fatalf("store kept too little: %d entries, %d bytes", st.Entries, st.Bytes)
	}
}

func TestStoreVaryVariantsCoexist(t *testing.T) {
	s, err := NewStore("vary", StoreConfig{MaxSize: 1 << 20, MaxRetention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	put := func(lang, body string) {
		r := httptest.NewRequest(http.MethodGet, "http://example.com/page", nil)
		r.Header.Set("Accept-Language", lang)
		names := []string{"Accept-Language"}
		s.Put(&Entry{
			Key: VariantKey(PrimaryKey(r), names, r), PrimaryKey: PrimaryKey(r), Status: 200,
			Header: http.Header{"Vary": {"Accept-Language"}}, Body: []byte(body), VaryNames: names,
			RequestTime: now, ResponseTime: now, DateValue: now, Reuse: Reuse{Lifetime: time.Hour}, Clock: s.clock.Now(),
		})
	}
	put("en", "hello")
	put("fr", "bonjour")
	for lang, want := range map[string]string{"en": "hello", "fr": "bonjour"} {
		r := httptest.NewRequest(http.MethodGet, "http://example.com/page", nil)
		r.Header.Set("Accept-Language", lang)
		e, _ := s.Lookup(r)
		if e == nil || string(e.Body) != want {
			t.Fatalf("lang %s: got %v, want %q", lang, e, want)
		}
	}
	r := httptest.NewRequest(http.MethodGet, "http://example.com/page", nil)
	r.Header.Set("Accept-Language", "de")
	if e, varyMiss := s.Lookup(r); e != nil || !varyMiss {
		t.Fatalf("lang de: entry %v varyMiss %v, want nil and true", e, varyMiss)
	}
}

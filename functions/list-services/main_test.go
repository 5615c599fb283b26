package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

func TestMain(m *testing.M) { pgtest.Run(m) }

func newTestHandler(t testing.TB) (http.Handler, func(sql string, args ...any)) {
	t.Helper()
	store, _ := pgtest.Store(t, apitest.Monday)
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := store.Pool.Exec(t.Context(), sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	return apitest.Validated(t, newHandler(store, apitest.Discard)), exec
}

// TestService: GET /api/services/{id} answers the service with its
// duration, desks, rules and opening hours (a period up to midnight reads
// 24:00, not 00:00).
func TestService(t *testing.T) {
	h, _ := newTestHandler(t)
	pool := pgtest.Pool(t)
	office, svc := pgtest.NewService(t, pool, pgtest.Service{
		Duration: 45, Buffer: 15, Notice: 120, Horizon: 30, Cutoff: 1440, Desks: 2,
		Hours: map[int][][2]string{
			1: {{"14:00", "16:00"}, {"09:00", "12:30"}},
			3: {{"09:00", "13:00"}},
			7: {{"20:00", "24:00"}},
		},
	})
	suffix := svc[len("service-"):]

	rec := apitest.Serve(t, h, apitest.Get("/api/services/"+svc))
	apitest.JSONAnswer(t, rec, http.StatusOK, "")
	apitest.SameJSON(t, rec.Body.Bytes(), fmt.Sprintf(`{
		"id": %q, "office_id": %q, "name": "Servizio %s", "description": "",
		"duration_minutes": 45, "buffer_minutes": 15, "min_notice_minutes": 120, "horizon_days": 30,
		"cancel_cutoff_minutes": 1440, "desks": 2, "what_to_bring": "Documento di identità", "open_on_holidays": false,
		"opening_hours": [
			{"weekday": 1, "opens": "09:00", "closes": "12:30"},
			{"weekday": 1, "opens": "14:00", "closes": "16:00"},
			{"weekday": 3, "opens": "09:00", "closes": "13:00"},
			{"weekday": 7, "opens": "20:00", "closes": "24:00"}
		]}`, svc, office, suffix))
}

// TestOffices: GET /api/offices lists each office with its active
// services; an office whose services are all inactive is left out.
func TestOffices(t *testing.T) {
	h, exec := newTestHandler(t)
	pool := pgtest.Pool(t)
	office, svc := pgtest.NewService(t, pool, pgtest.Service{Duration: 20,
		Hours: map[int][][2]string{2: {{"09:00", "10:00"}}}})
	suffix := svc[len("service-"):]
	// A second, inactive service in the same office, and an office whose
	// only service is inactive.
	exec(`INSERT INTO services (id, office_id, name, duration_minutes, active) VALUES ($1, $2, 'Chiuso', 30, false)`, "off-"+suffix, office)
	emptyOffice, inactive := pgtest.NewService(t, pool, pgtest.Service{})
	exec(`UPDATE services SET active = false WHERE id = $1`, inactive)

	wantOffice := fmt.Sprintf(`{
		"id": %q, "name": "Ufficio %s", "description": "",
		"services": [{
			"id": %q, "office_id": %q, "name": "Servizio %s", "description": "",
			"duration_minutes": 20, "buffer_minutes": 0, "min_notice_minutes": 0, "horizon_days": 60,
			"cancel_cutoff_minutes": 0, "desks": 1, "what_to_bring": "Documento di identità", "open_on_holidays": false,
			"opening_hours": [{"weekday": 2, "opens": "09:00", "closes": "10:00"}]
		}]}`, office, suffix, svc, office, suffix)

	rec := apitest.Serve(t, h, apitest.Get("/api/offices"))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if got := rec.Header().Get("Cache-Control"); got != "public, max-age=60" {
		t.Errorf("Cache-Control = %q", got)
	}
	var list struct {
		Offices []json.RawMessage `json:"offices"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	var found int
	for _, raw := range list.Offices {
		var o struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &o); err != nil {
			t.Fatal(err)
		}
		switch o.ID {
		case office:
			found++
			apitest.SameJSON(t, raw, wantOffice)
		case emptyOffice:
			t.Errorf("office %s has no active service but is listed", emptyOffice)
		}
	}
	if found != 1 {
		t.Errorf("office %s listed %d times, want once", office, found)
	}

	rec = apitest.Serve(t, h, apitest.Get("/api/offices/"+office))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /api/offices/%s: status %d: %s", office, rec.Code, rec.Body)
	}
	apitest.SameJSON(t, rec.Body.Bytes(), wantOffice)
}

// TestNotFound: unknown, inactive and malformed ids are a 404 naming the
// field, never a 500 (a NUL byte or invalid UTF-8 must not reach
// PostgreSQL, which would refuse it).
func TestNotFound(t *testing.T) {
	h, exec := newTestHandler(t)
	pool := pgtest.Pool(t)
	emptyOffice, inactive := pgtest.NewService(t, pool, pgtest.Service{})
	exec(`UPDATE services SET active = false WHERE id = $1`, inactive)

	for _, tc := range []struct {
		name   string
		method string
		target string
		want   apitest.Verdict
	}{
		{"unknown service", "GET", "/api/services/no-such-service", apitest.Want(404, "not_found", "service_id")},
		{"inactive service", "GET", "/api/services/" + inactive, apitest.Want(404, "not_found", "service_id")},
		{"service id with NUL", "GET", "/api/services/a%00b", apitest.Want(404, "not_found", "service_id")},
		{"service id not UTF-8", "GET", "/api/services/%ff%fe", apitest.Want(404, "not_found", "service_id")},
		{"service id too long", "GET", "/api/services/" + fmt.Sprintf("%0300d", 1), apitest.Want(404, "not_found", "service_id")},
		{"unknown office", "GET", "/api/offices/no-such-office", apitest.Want(404, "not_found", "office_id")},
		{"office without active services", "GET", "/api/offices/" + emptyOffice, apitest.Want(404, "not_found", "office_id")},
		{"office id with NUL", "GET", "/api/offices/a%00b", apitest.Want(404, "not_found", "office_id")},
		{"unknown path", "GET", "/api/nothing", apitest.Want(404, "not_found", "")},
		{"wrong method", "POST", "/api/offices", apitest.Want(404, "not_found", "")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := apitest.Serve(t, h, httptest.NewRequest(tc.method, tc.target, nil))
			p := apitest.ProblemOf(t, rec)
			if diff := cmp.Diff(tc.want, apitest.VerdictOf(rec, p)); diff != "" {
				t.Errorf("(-want +got):\n%s\nbody: %s", diff, rec.Body)
			}
		})
	}
}

// TestCatalogReuse: with a Catalog, an instance answers the catalog it
// read until its MaxAge has passed, then reads it again; without one,
// every request reads it.
func TestCatalogReuse(t *testing.T) {
	listed := func(h http.Handler, office string) bool {
		t.Helper()
		rec := apitest.Serve(t, h, apitest.Get("/api/offices"))
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		var list struct {
			Offices []struct {
				ID string `json:"id"`
			} `json:"offices"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil {
			t.Fatal(err)
		}
		for _, o := range list.Offices {
			if o.ID == office {
				return true
			}
		}
		return false
	}
	store, _ := pgtest.Store(t, apitest.Monday)
	uncached := newHandler(store, apitest.Discard)
	cachedStore := *store
	cachedStore.Catalog = &postgres.Catalog{}
	cachedStore.Catalog.MaxAge = time.Second
	cached := newHandler(&cachedStore, apitest.Discard)

	first, _ := pgtest.NewService(t, store.Pool, pgtest.Service{})
	before := time.Now() // the cached entry is read after this
	if !listed(cached, first) || !listed(uncached, first) {
		t.Fatalf("office %s is not listed", first)
	}
	read := time.Now() // and before this
	second, _ := pgtest.NewService(t, store.Pool, pgtest.Service{})
	if !listed(uncached, second) {
		t.Errorf("without a catalog cache, office %s is not listed at once", second)
	}
	again := listed(cached, second)
	switch elapsed := time.Since(before); {
	case elapsed >= cachedStore.Catalog.MaxAge:
		t.Errorf("the requests took %v, not less than the MaxAge: reuse cannot be told", elapsed)
	case again:
		t.Errorf("office %s is listed within the MaxAge: the catalog was read again", second)
	}
	time.Sleep(time.Until(read.Add(cachedStore.Catalog.MaxAge)))
	if !listed(cached, second) {
		t.Errorf("office %s is still not listed after the MaxAge", second)
	}
}

package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/domain/booking"
	"github.com/sportello/sportello/functions/internal/domain/secret"
	"github.com/sportello/sportello/functions/internal/httpapi/apitest"
	"github.com/sportello/sportello/functions/internal/httpapi/idempotency"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

func TestMain(m *testing.M) { pgtest.Run(m) }

// handler is the function on store, as the tests open it (apitest.Open).
func handler(store *postgres.Store) http.Handler { return newHandler(store, apitest.Discard) }

// post builds a POST to confirm; an empty contentType sends no Content-Type.
func post(body, contentType string) *http.Request {
	return apitest.Post("/api/bookings", body, contentType)
}

func hold(t *testing.T, store *postgres.Store, svc string, start time.Time) booking.Hold {
	t.Helper()
	return pgtest.Hold(t, store, svc, start, "it")
}

// request builds a confirm body; citizen is raw JSON ("" leaves it out).
func request(h booking.Hold, citizen string) string {
	if citizen == "" {
		return fmt.Sprintf(`{"hold_id": %q, "hold_secret": %q}`, h.ID, h.Secret)
	}
	return fmt.Sprintf(`{"hold_id": %q, "hold_secret": %q, "citizen": %s}`, h.ID, h.Secret, citizen)
}

const maria = `{"given_name": "Maria", "family_name": "Rossi", "address": "Via Sparano 1, Bari",
	"email": "maria.rossi@example.it", "privacy_consent": true}`

// TestConfirm: a hold becomes a booking: 201 with the manage token (stored
// only as its hash), the booking and the citizen's normalised data, in
// the municipality's offset (even when the clock, as the system clock of a
// container, is in UTC), not cacheable, with its event.
func TestConfirm(t *testing.T) {
	store, _ := pgtest.Store(t, apitest.Monday.UTC())
	h := apitest.Validated(t, newHandler(store, apitest.Discard))
	office, svc := pgtest.NewService(t, store.Pool, pgtest.Service{Desks: 1, Cutoff: 60})
	suffix := svc[len("service-"):]

	long := func(s string, n int) string { return strings.Repeat(s, n) }
	for i, tc := range []struct {
		name, citizen string
		wantCitizen   string // the citizen as answered
	}{
		{
			name: "normalised",
			citizen: `{"given_name": "  Maria ", "family_name": "Rossi", "address": " Via Sparano 1, Bari ",
				"email": " Maria.Rossi@Example.IT ", "reason": " SCIA ", "details": "Pratica 12/2027\nallegati", "privacy_consent": true, "locale": "IT"}`,
			wantCitizen: `{"given_name": "Maria", "family_name": "Rossi", "address": "Via Sparano 1, Bari",
				"email": "Maria.Rossi@example.it", "reason": "SCIA", "details": "Pratica 12/2027\nallegati", "privacy_consent": true, "locale": "it"}`,
		},
		{
			name:        "only what is required",
			citizen:     maria,
			wantCitizen: `{"given_name": "Maria", "family_name": "Rossi", "address": "Via Sparano 1, Bari", "email": "maria.rossi@example.it", "reason": "", "details": "", "privacy_consent": true, "locale": "it"}`,
		},
		{
			name: "every field at its limit, in English",
			citizen: fmt.Sprintf(`{"given_name": %q, "family_name": %q, "address": %q, "email": "a@b.it", "reason": %q, "details": %q, "privacy_consent": true, "locale": "en"}`,
				long("à", 100), long("Ö", 100), long("è", 200), long("r", 200), long("d", 200)),
			wantCitizen: fmt.Sprintf(`{"given_name": %q, "family_name": %q, "address": %q, "email": "a@b.it", "reason": %q, "details": %q, "privacy_consent": true, "locale": "en"}`,
				long("à", 100), long("Ö", 100), long("è", 200), long("r", 200), long("d", 200)),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := apitest.At("2027-03-02", "09:00").Add(time.Duration(i) * 30 * time.Minute)
			held := hold(t, store, svc, start)
			before := apitest.Snap(t)
			rec := apitest.Serve(t, h, post(request(held, tc.citizen), "application/json"))
			apitest.JSONAnswer(t, rec, http.StatusCreated, "no-store") // personal data and a secret
			var got struct {
				ManageToken string `json:"manage_token"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if !secret.WellFormed(got.ManageToken) || got.ManageToken == held.Secret {
				t.Errorf("manage_token %q is not a fresh 256-bit token", got.ManageToken)
			}
			local := func(t time.Time) string { return t.In(apitest.Rome).Format(time.RFC3339) }
			apitest.SameJSON(t, rec.Body.Bytes(), fmt.Sprintf(`{
				"booking_id": %q, "status": "confirmed",
				"office_id": %q, "office_name": "Ufficio %s", "service_id": %q, "service_name": "Servizio %s",
				"start": %q, "end": %q, "desk": "Postazione 1", "sequence": 0,
				"what_to_bring": "Documento di identità", "changeable_until": %q,
				"citizen": %s, "confirmed_at": "2027-03-01T08:00:00+01:00", "manage_token": %q}`,
				held.ID, office, suffix, svc, suffix, local(start), local(start.Add(30*time.Minute)),
				local(start.Add(-time.Hour)), tc.wantCitizen, got.ManageToken))

			// Stored: confirmed, under the token's hash, with its event.
			var (
				status     string
				tokenHash  []byte
				consentAt  time.Time
				confirmeds int
			)
			err := store.Pool.QueryRow(t.Context(), `SELECT status, (SELECT token_hash FROM manage_tokens t WHERE t.booking_id = b.id), privacy_consent_at,
				(SELECT count(*) FROM outbox WHERE subject = b.id::text AND type = $2)
				FROM bookings b WHERE id = $1`, held.ID, events.BookingConfirmed).Scan(&status, &tokenHash, &consentAt, &confirmeds)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]any{"confirmed", secret.Hash(got.ManageToken), apitest.Monday.UTC(), 1},
				[]any{status, tokenHash, consentAt.UTC(), confirmeds}); diff != "" {
				t.Errorf("stored booking (status, token hash, consent, events) (-want +got):\n%s", diff)
			}
			apitest.Wrote(t, before, 0, 1)
		})
	}
}

// TestConfirmBadInput: every bad request is a 4xx problem naming the field
// at fault with a stable code, never a 5xx, not cacheable, and writes
// nothing.
func TestConfirmBadInput(t *testing.T) {
	store, _, h, svc := apitest.Open(t, pgtest.Service{Desks: 1}, handler)
	held := hold(t, store, svc, apitest.At("2027-03-02", "09:00"))
	other := hold(t, store, svc, apitest.At("2027-03-02", "09:30"))
	randomSecret, _ := secret.New()

	// citizen returns maria with one field replaced by raw JSON.
	citizen := func(field, raw string) string {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(maria), &m); err != nil {
			panic(err)
		}
		if raw == "" {
			delete(m, field)
		} else {
			m[field] = json.RawMessage(raw)
		}
		b, err := json.Marshal(m)
		if err != nil {
			panic(err)
		}
		return string(b)
	}
	str := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	ok := request(held, maria)
	bad := func(field string) apitest.Verdict { return apitest.Want(400, "invalid", field) }
	notFound := apitest.Want(404, "not_found", "hold_id")
	for _, tc := range []struct {
		name        string
		body        string
		contentType string
		want        apitest.Verdict
	}{
		// The body.
		{"empty body", ``, "application/json", bad("")},
		{"malformed JSON", ok[:len(ok)-10], "application/json", bad("")},
		{"an array", `[` + ok + `]`, "application/json", bad("")},
		{"two objects", ok + ok, "application/json", bad("")},
		{"too large", request(held, citizen("details", str(strings.Repeat("d", 70<<10)))), "application/json", apitest.Want(413, "too_large", "")},
		{"text/plain", ok, "text/plain", apitest.Want(415, "unsupported_media_type", "Content-Type")},
		{"multipart", ok, "multipart/form-data; boundary=x", apitest.Want(415, "unsupported_media_type", "Content-Type")},
		// Unknown fields, top level and nested.
		{"unknown field", `{"hold_id": "` + held.ID + `", "hold_secret": "` + held.Secret + `", "citizen": ` + maria + `, "start": "2027-03-02T09:00:00+01:00"}`, "application/json", bad("start")},
		{"unknown citizen field", request(held, citizen("fiscal_code", `"RSSMRA80A41A662X"`)), "application/json", bad("citizen.fiscal_code")},
		{"unknown citizen field, mistyped", request(held, citizen("given_nam", `"Maria"`)), "application/json", bad("citizen.given_nam")},
		// Wrong types.
		{"hold_id a number", `{"hold_id": 7, "hold_secret": "` + held.Secret + `", "citizen": ` + maria + `}`, "application/json", bad("hold_id")},
		{"hold_secret an array", `{"hold_id": "` + held.ID + `", "hold_secret": ["x"], "citizen": ` + maria + `}`, "application/json", bad("hold_secret")},
		{"citizen a string", request(held, `"Maria Rossi"`), "application/json", bad("citizen")},
		{"citizen an array", request(held, `[`+maria+`]`), "application/json", bad("citizen")},
		{"privacy_consent a string", request(held, citizen("privacy_consent", `"yes"`)), "application/json", bad("citizen.privacy_consent")},
		{"privacy_consent a number", request(held, citizen("privacy_consent", `1`)), "application/json", bad("citizen.privacy_consent")},
		{"email a number", request(held, citizen("email", `42`)), "application/json", bad("citizen.email")},
		{"given_name an object", request(held, citizen("given_name", `{"it": "Maria"}`)), "application/json", bad("citizen.given_name")},
		// Missing parts.
		{"missing hold_id", `{"hold_secret": "` + held.Secret + `", "citizen": ` + maria + `}`, "application/json", bad("hold_id")},
		{"missing hold_secret", `{"hold_id": "` + held.ID + `", "citizen": ` + maria + `}`, "application/json", bad("hold_secret")},
		{"missing citizen", request(held, ""), "application/json", bad("citizen")},
		{"null citizen", request(held, "null"), "application/json", bad("citizen")},
		{"empty citizen", request(held, "{}"), "application/json", bad("citizen.given_name")},
		{"missing given_name", request(held, citizen("given_name", "")), "application/json", bad("citizen.given_name")},
		{"blank family_name", request(held, citizen("family_name", `"   "`)), "application/json", bad("citizen.family_name")},
		{"missing address", request(held, citizen("address", "")), "application/json", bad("citizen.address")},
		{"missing email", request(held, citizen("email", "")), "application/json", bad("citizen.email")},
		{"missing privacy consent", request(held, citizen("privacy_consent", "")), "application/json", bad("citizen.privacy_consent")},
		{"privacy consent refused", request(held, citizen("privacy_consent", "false")), "application/json", bad("citizen.privacy_consent")},
		// Field contents.
		{"email without @", request(held, citizen("email", `"maria.rossi.example.it"`)), "application/json", bad("citizen.email")},
		{"email without a dotted domain", request(held, citizen("email", `"maria@localhost"`)), "application/json", bad("citizen.email")},
		{"email with a display name", request(held, citizen("email", `"Maria <maria@example.it>"`)), "application/json", bad("citizen.email")},
		{"email with a space", request(held, citizen("email", `"maria rossi@example.it"`)), "application/json", bad("citizen.email")},
		{"email ending in a dot", request(held, citizen("email", `"maria@example.it."`)), "application/json", bad("citizen.email")},
		{"two emails", request(held, citizen("email", `"a@example.it, b@example.it"`)), "application/json", bad("citizen.email")},
		{"email too long", request(held, citizen("email", str(strings.Repeat("m", 250)+"@example.it"))), "application/json", bad("citizen.email")},
		{"given_name of 101 characters", request(held, citizen("given_name", str(strings.Repeat("à", 101)))), "application/json", bad("citizen.given_name")},
		{"family_name of 101 characters", request(held, citizen("family_name", str(strings.Repeat("R", 101)))), "application/json", bad("citizen.family_name")},
		{"address of 201 characters", request(held, citizen("address", str(strings.Repeat("v", 201)))), "application/json", bad("citizen.address")},
		{"reason of 201 characters", request(held, citizen("reason", str(strings.Repeat("m", 201)))), "application/json", bad("citizen.reason")},
		{"details of 201 characters", request(held, citizen("details", str(strings.Repeat("è", 201)))), "application/json", bad("citizen.details")},
		{"given_name with a control character", request(held, citizen("given_name", `"Ma\u0007ria"`)), "application/json", bad("citizen.given_name")},
		{"address with NUL", request(held, citizen("address", `"Via Sparano\u0000 1"`)), "application/json", bad("citizen.address")},
		{"reason with a newline", request(held, citizen("reason", `"SCIA\nambientale"`)), "application/json", bad("citizen.reason")},
		{"details with NUL", request(held, citizen("details", `"a\u0000b"`)), "application/json", bad("citizen.details")},
		{"unknown locale", request(held, citizen("locale", `"fr"`)), "application/json", bad("citizen.locale")},
		// encoding/json would store these as U+FFFD and confirm with a 201.
		{"given_name not UTF-8", request(held, citizen("given_name", "\"Mar\xeda\"")), "application/json", bad("citizen.given_name")},
		{"family_name with half a surrogate pair", request(held, citizen("family_name", `"Rossi\ud83d"`)), "application/json", bad("citizen.family_name")},
		{"citizen given twice", fmt.Sprintf(`{"hold_id": %q, "hold_secret": %q, "citizen": %s, "Citizen": %s}`, held.ID, held.Secret, maria, maria), "application/json", bad("Citizen")},
		// The hold.
		{"unknown hold id", fmt.Sprintf(`{"hold_id": %q, "hold_secret": %q, "citizen": %s}`, uuid.NewString(), held.Secret, maria), "application/json", notFound},
		{"hold id not a UUID", fmt.Sprintf(`{"hold_id": "hold-1", "hold_secret": %q, "citizen": %s}`, held.Secret, maria), "application/json", notFound},
		{"hold id with NUL", fmt.Sprintf(`{"hold_id": "a\u0000b", "hold_secret": %q, "citizen": %s}`, held.Secret, maria), "application/json", apitest.Want(400, "invalid", "hold_id")},
		{"wrong hold secret", fmt.Sprintf(`{"hold_id": %q, "hold_secret": %q, "citizen": %s}`, held.ID, randomSecret, maria), "application/json", notFound},
		{"malformed hold secret", fmt.Sprintf(`{"hold_id": %q, "hold_secret": "secret", "citizen": %s}`, held.ID, maria), "application/json", notFound},
		{"secret of another hold", fmt.Sprintf(`{"hold_id": %q, "hold_secret": %q, "citizen": %s}`, held.ID, other.Secret, maria), "application/json", notFound},
		{"tampered hold secret", fmt.Sprintf(`{"hold_id": %q, "hold_secret": %q, "citizen": %s}`, held.ID, tamper(held.Secret), maria), "application/json", notFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := apitest.RefusedServe(t, "", tc.want, h, post(tc.body, tc.contentType))
			if strings.Contains(rec.Body.String(), held.Secret) {
				t.Errorf("the problem echoes the hold secret: %s", rec.Body)
			}
		})
	}

	// The hold survived every attempt: it still confirms.
	if rec := apitest.Serve(t, h, post(ok, "application/json")); rec.Code != http.StatusCreated {
		t.Fatalf("confirm after the bad attempts: status %d: %s", rec.Code, rec.Body)
	}
}

// tamper changes the first character of a token.
func tamper(tok string) string {
	c := byte('A')
	if tok[0] == 'A' {
		c = 'B'
	}
	return string(c) + tok[1:]
}

// TestConfirmListsEveryProblem: one answer names every field at fault.
func TestConfirmListsEveryProblem(t *testing.T) {
	store, _, h, svc := apitest.Open(t, pgtest.Service{Desks: 1}, handler)
	held := hold(t, store, svc, apitest.At("2027-03-02", "09:00"))

	rec := apitest.Serve(t, h, post(request(held, `{"email": "nope", "reason": "`+strings.Repeat("r", 201)+`", "locale": "de"}`), ""))
	p := apitest.ProblemOf(t, rec, apitest.NoStore)
	var fields []string
	for _, e := range p.Errors {
		fields = append(fields, e.Field)
	}
	want := []string{"citizen.given_name", "citizen.family_name", "citizen.address", "citizen.email",
		"citizen.reason", "citizen.privacy_consent", "citizen.locale"}
	if diff := cmp.Diff(want, fields); diff != "" {
		t.Errorf("fields at fault (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(apitest.Want(400, "invalid", "citizen.given_name"), apitest.VerdictOf(rec, p)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestConfirmHoldLifetime: a hold confirms until ten minutes after it was
// made; from then on it is 410 on hold_id, whether or not someone else has
// taken the slot since; a confirmed hold cannot be confirmed again (409).
// None of these refusals writes anything.
func TestConfirmHoldLifetime(t *testing.T) {
	store, clk, h, svc := apitest.Open(t, pgtest.Service{Desks: 1}, handler)
	early := hold(t, store, svc, apitest.At("2027-03-02", "09:00"))
	lapsed := hold(t, store, svc, apitest.At("2027-03-02", "09:30"))
	exact := hold(t, store, svc, apitest.At("2027-03-02", "10:00"))
	taken := hold(t, store, svc, apitest.At("2027-03-02", "10:30"))

	refused := func(name string, hd booking.Hold, want apitest.Verdict) {
		t.Helper()
		apitest.RefusedServe(t, name, want, h, post(request(hd, maria), "application/json"))
	}

	clk.Set(apitest.Monday.Add(10*time.Minute - time.Second))
	rec := apitest.Serve(t, h, post(request(early, maria), "application/json"))
	if rec.Code != http.StatusCreated {
		t.Fatalf("confirm a second before expiry: status %d: %s", rec.Code, rec.Body)
	}
	// The same confirmation again (a retry after a lost answer): the same
	// booking, a new manage token that works, nothing else written.
	first := apitest.Decode[booking.Confirmation](t, rec.Body.Bytes())
	before := apitest.Snap(t)
	again := apitest.Serve(t, h, post(request(early, maria), "application/json"), apitest.NoStore)
	second := apitest.Decode[booking.Confirmation](t, again.Body.Bytes())
	if again.Code != http.StatusCreated || second.ID != first.ID || second.ManageToken == "" || second.ManageToken == first.ManageToken {
		t.Errorf("confirmed again: status %d, booking %s (first %s), token new: %v", again.Code, second.ID, first.ID, second.ManageToken != first.ManageToken)
	}
	apitest.Unchanged(t, "a repeated confirmation", before)
	for _, tok := range []string{first.ManageToken, second.ManageToken} {
		if b, err := store.Booking(t.Context(), tok); err != nil || b.ID != first.ID {
			t.Errorf("manage token after a repeated confirmation: %v, %v", b.ID, err)
		}
	}
	other := strings.Replace(maria, `"Rossi"`, `"Bianchi"`, 1)
	apitest.RefusedServe(t, "confirmed again with other data", apitest.Want(409, "conflict", "hold_id"), h, post(request(early, other), "application/json"))

	clk.Set(apitest.Monday.Add(10 * time.Minute))
	refused("at the expiry instant", exact, apitest.Want(410, "gone", "hold_id"))
	clk.Advance(time.Second)
	refused("after expiry", lapsed, apitest.Want(410, "gone", "hold_id"))

	// Someone else holds the slot of a lapsed hold: the lapsed one is
	// marked expired and stays gone.
	if _, err := store.Reserve(t.Context(), svc, taken.Start, "it"); err != nil {
		t.Fatal(err)
	}
	refused("slot taken by another", taken, apitest.Want(410, "gone", "hold_id"))
	apitest.RefusedServe(t, "confirmed, later, with other data", apitest.Want(409, "conflict", "hold_id"), h, post(request(early, other), "application/json"))
}

// TestConfirmRetriedWithIdempotencyKey: a confirmation sent again with the
// same Idempotency-Key (the site retries after a lost answer) gets the same
// answer — the same booking and the same manage token, which works — and
// writes nothing more: one booking, one event.
func TestConfirmRetriedWithIdempotencyKey(t *testing.T) {
	store, _ := pgtest.Store(t, apitest.Monday)
	h := apitest.Validated(t, idempotency.Wrap(store, "confirm", apitest.Discard, newHandler(store, apitest.Discard)))
	_, svc := pgtest.NewService(t, store.Pool, pgtest.Service{Desks: 1})
	mine := hold(t, store, svc, apitest.At("2027-03-02", "09:00"))
	send := func() *httptest.ResponseRecorder {
		r := post(request(mine, maria), "application/json")
		r.Header.Set(idempotency.Header, "3f0e4c0a-2b8e-4a7e-9f55-6c1d2e1b7a10")
		return apitest.Serve(t, h, r, apitest.NoStore)
	}
	first := send()
	if first.Code != http.StatusCreated {
		t.Fatalf("status %d: %s", first.Code, first.Body)
	}
	snap := apitest.Snap(t)
	again := send()
	if again.Code != http.StatusCreated || again.Body.String() != first.Body.String() || again.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("retry: %d %s %v, want the first answer again", again.Code, again.Body, again.Header())
	}
	apitest.Unchanged(t, "the retry", snap)
	if n := apitest.EventsOf(t, mine.ID, events.BookingConfirmed); n != 1 {
		t.Errorf("%d confirmed events, want 1", n)
	}
	var b struct {
		ManageToken string `json:"manage_token"`
	}
	_ = json.Unmarshal(again.Body.Bytes(), &b)
	if _, err := store.Booking(t.Context(), b.ManageToken); err != nil {
		t.Errorf("the replayed manage token does not work: %v", err)
	}
}

package httpx

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
)

// Limits of what a request may hold, checked on the raw bytes before any
// decoder sees them: encoding/json quietly replaces invalid UTF-8 and lone
// surrogates with U+FFFD, and PostgreSQL refuses a NUL in text with an
// error of its own, so neither may be left to later checks.
const (
	// MaxDepth is the deepest nesting of objects and arrays in a body.
	MaxDepth = 16
	// MaxString is the longest string of a body, in characters; each
	// field's own rule is usually far shorter.
	MaxString = 10000
	// MaxQueryValue is the longest query parameter, in bytes.
	MaxQueryValue = 512
)

// CheckJSON refuses a JSON document whose text no field could hold: a
// string (member name or value) that is not valid UTF-8, holds a NUL or
// another control character other than tab and line breaks (the fields'
// own rules refuse those where a field is one line), holds half of a
// surrogate pair in a \u escape, or is longer than MaxString; a member
// named twice in one object (encoding/json would keep the last, matching
// names case-insensitively); nesting deeper than MaxDepth; a number that
// is not a finite float64. The problem names the field at fault. A
// syntax error is left to the decoder, which reports it.
func CheckJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []*level // the containers open at the token
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil // end, or a syntax error Decode will report
		}
		var top *level
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		isKey := top != nil && top.object && !top.hasKey
		path := func() string { return pathOf(stack) } // only for a problem: most tokens have none
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if len(stack) >= MaxDepth {
					return apperr.Field(path(), apperr.InvalidFormat, "nested deeper than %d levels", MaxDepth)
				}
				stack = append(stack, &level{object: v == '{', index: -1, seen: map[string]bool{}})
				continue
			}
			stack = stack[:len(stack)-1]
			if len(stack) > 0 {
				stack[len(stack)-1].took() // the container was the parent's value
			}
			continue
		case string:
			raw := bytes.TrimLeft(data[start:dec.InputOffset()], " \t\r\n,:")
			if isKey {
				if msg := badString(raw); msg != "" {
					return apperr.Field(path(), apperr.InvalidText, "a member name %s", msg)
				}
				folded := strings.ToLower(v)
				if top.seen[folded] {
					return apperr.Field(join(path(), v), apperr.Duplicate, "%s is given twice", join(path(), v))
				}
				top.seen[folded] = true
				top.key, top.hasKey = v, true
				continue
			}
			if msg := badString(raw); msg != "" {
				return apperr.Field(path(), apperr.InvalidText, "%s", msg)
			}
			if n := utf8.RuneCountInString(v); n > MaxString {
				e := apperr.Field(path(), apperr.TooLong, "longer than %d characters", MaxString)
				e.Fields[0].With(MaxString)
				return e
			}
		case json.Number:
			if _, err := strconv.ParseFloat(string(v), 64); err != nil { // ErrRange: beyond ±1.8e308
				return apperr.Field(path(), apperr.OutOfRange, "the number %.20s… is out of range", string(v))
			}
		}
		top.took()
	}
}

// level is one open object or array: the member name or index of the
// value at hand, and an object's names so far (folded to lower case).
type level struct {
	object bool
	key    string
	hasKey bool // the object's next token is the value of key
	index  int
	seen   map[string]bool
}

// took moves past one value of the container: an object awaits its next
// member name, an array its next index. nil (the top level) is a no-op.
func (l *level) took() {
	if l == nil {
		return
	}
	if l.object {
		l.hasKey = false
	} else {
		l.index++
	}
}

// pathOf names the value at hand as the problems name fields:
// "citizen.email", "hours[2].opens"; "" at the top level.
func pathOf(stack []*level) string {
	var b strings.Builder
	for _, l := range stack {
		switch {
		case l.object && l.hasKey:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(l.key)
		case !l.object:
			fmt.Fprintf(&b, "[%d]", l.index+1)
		}
	}
	return b.String()
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// badString says what is wrong with the raw JSON string token raw (quotes
// included), or "".
func badString(raw []byte) string {
	if len(raw) < 2 {
		return ""
	}
	s := raw[1 : len(raw)-1]
	if !utf8.Valid(s) {
		return "is not valid UTF-8"
	}
	for i := 0; i < len(s); {
		if s[i] != '\\' {
			r, size := utf8.DecodeRune(s[i:])
			if forbidden(r) {
				return "contains a control character"
			}
			i += size
			continue
		}
		if i+1 >= len(s) {
			return ""
		}
		switch s[i+1] {
		case 'b', 'f':
			return "contains a control character"
		case 'u':
			r, ok := hex4(s[i+2:])
			if !ok {
				return "" // the decoder reports a malformed escape
			}
			i += 6
			switch {
			case r >= 0xD800 && r <= 0xDBFF:
				low, ok := uint16(0), i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u'
				if ok {
					low, ok = hex4(s[i+2:])
				}
				if !ok || low < 0xDC00 || low > 0xDFFF {
					return "holds half of a surrogate pair"
				}
				i += 6
			case r >= 0xDC00 && r <= 0xDFFF:
				return "holds half of a surrogate pair"
			case forbidden(rune(r)):
				return "contains a control character"
			}
		default:
			i += 2
		}
	}
	return ""
}

// forbidden reports whether r may never stand in text that reaches the
// counter: NUL and the C0 and C1 controls, but for tab and line breaks.
func forbidden(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	return r < 0x20 || (r >= 0x7F && r <= 0x9F)
}

func hex4(b []byte) (uint16, bool) {
	if len(b) < 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[:4]), 16, 16)
	return uint16(n), err == nil
}

// CheckQuery refuses a request whose path or query string no field could
// hold: a malformed query, a parameter name or value that is not valid
// UTF-8 or holds a control character, or a value longer than
// MaxQueryValue bytes. The problem names the parameter at fault ("path"
// for the path).
func CheckQuery(r *http.Request) error {
	if !plainText(r.URL.Path) {
		return apperr.Field("path", apperr.InvalidText, "the path is not valid UTF-8 text")
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return apperr.New(apperr.Invalid, "", "malformed query string")
	}
	for name, values := range q {
		if !plainText(name) {
			return apperr.Field("query", apperr.InvalidText, "a query parameter's name is not valid UTF-8 text")
		}
		for _, v := range values {
			switch {
			case !plainText(v):
				return apperr.Field(name, apperr.InvalidText, "%s is not valid UTF-8 text", name)
			case len(v) > MaxQueryValue:
				e := apperr.Field(name, apperr.TooLong, "%s is longer than %d bytes", name, MaxQueryValue)
				e.Fields[0].With(MaxQueryValue)
				return e
			}
		}
	}
	return nil
}

// plainText reports whether s is valid UTF-8 with no control character
// at all.
func plainText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || (r >= 0x7F && r <= 0x9F) {
			return false
		}
	}
	return true
}

// CheckRequests wraps next so that every request's path and query string
// pass CheckQuery before it sees them (bodies are checked by Decode).
func CheckRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := CheckQuery(r); err != nil {
			NoStore(w)
			Error(w, r, nil, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

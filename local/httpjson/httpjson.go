// Package httpjson writes the answers of the local stack's own endpoints
// (the broker's lists, the gateway's /_local/ tools and its errors): JSON
// that is never cached, and RFC 9457 problems shaped as the functions'
// own (type urn:sportello:problem:<code>, title, status, code, detail).
package httpjson

import (
	"encoding/json"
	"net/http"
)

// Write answers v as indented JSON.
func Write(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail,omitempty"`
}

// WriteProblem answers a problem with status, code and detail.
func WriteProblem(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Problem{Type: "urn:sportello:problem:" + code, Title: http.StatusText(status),
		Status: status, Code: code, Detail: detail})
}

package clienttest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"
)

// Mailpit reads the messages a Mailpit caught, over its HTTP API at URL
// (MAILPIT_URL under make test; the local stack's own).
type Mailpit struct{ URL string }

// Address is a mailbox of a message.
type Address struct{ Name, Address string }

// Attachment is an attachment of a message, as Mailpit lists it.
type Attachment struct{ PartID, FileName, ContentType string }

// Mail is a message as Mailpit stores it. To lists messages with their
// id, subject, addresses and time only; Message reads them whole.
type Mail struct {
	ID          string
	Subject     string
	From        Address
	To          []Address
	Text, HTML  string
	Attachments []Attachment
	Created     time.Time

	Raw []byte // the message as it was sent
	ICS []byte // its text/calendar attachment, nil without one
}

// To lists the messages to the address to (Mailpit's search matches
// substrings: these are to exactly that address), oldest first.
func (m Mailpit) To(tb testing.TB, to string) []Mail {
	tb.Helper()
	var res struct {
		Messages []struct { // the search counts attachments: no list of them
			ID, Subject string
			From        Address
			To          []Address
			Created     time.Time
		} `json:"messages"`
	}
	if err := json.Unmarshal(m.get(tb, "/api/v1/search?limit=100&query="+url.QueryEscape(`to:"`+to+`"`)), &res); err != nil {
		tb.Fatalf("mailpit search: %v", err)
	}
	var out []Mail
	for _, x := range res.Messages {
		for _, a := range x.To {
			if strings.EqualFold(a.Address, to) {
				out = append(out, Mail{ID: x.ID, Subject: x.Subject, From: x.From, To: x.To, Created: x.Created})
				break
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out
}

// Message reads the message id, with its raw form and its calendar
// attachment.
func (m Mailpit) Message(tb testing.TB, id string) Mail {
	tb.Helper()
	var msg Mail
	if err := json.Unmarshal(m.get(tb, "/api/v1/message/"+id), &msg); err != nil {
		tb.Fatalf("mailpit message: %v", err)
	}
	msg.Raw = m.get(tb, "/api/v1/message/"+id+"/raw")
	for _, a := range msg.Attachments {
		if strings.HasPrefix(a.ContentType, "text/calendar") {
			msg.ICS = m.get(tb, "/api/v1/message/"+id+"/part/"+a.PartID)
		}
	}
	return msg
}

func (m Mailpit) get(tb testing.TB, path string) []byte {
	tb.Helper()
	r := Get(tb, strings.TrimRight(m.URL, "/")+path)
	if r.Status != http.StatusOK {
		tb.Fatalf("mailpit GET %s: %d: %s", path, r.Status, r.Body)
	}
	return r.Body
}

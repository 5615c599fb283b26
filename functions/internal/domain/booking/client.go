package booking

import "time"

// Client is who asks for a hold, as far as a counter open to anonymous
// citizens can tell: the client id of its signed client token (a random id,
// no personal data) and its network address. Either may be empty: a hold
// made by the office, or a test, is nobody's.
type Client struct {
	ID      string // a UUID, from the client token reserve issues
	Address string // the network address (an IPv6 address stands for its /64)
	// New: the client token was issued with this very request, so the
	// client has no holds yet: nothing of its own to release, and this
	// request — its first — is counted by the token itself, not by a row.
	New bool
	// Since is when the client token was issued: the request that issued
	// it was the client's first.
	Since time.Time
}

// HoldLimits bound what one client may do on a busy day. A zero field
// means no limit.
type HoldLimits struct {
	PerClient        int // live holds a client may have; a new one releases the oldest beyond
	ClientPerMinute  int // holds a client may ask for in a minute
	AddressPerMinute int // holds one network address may ask for in a minute
}

// Or fills the limits l does not set with the defaults d: an office's own
// limits override the counter's defaults one by one.
func (l HoldLimits) Or(d HoldLimits) HoldLimits {
	if l.PerClient == 0 {
		l.PerClient = d.PerClient
	}
	if l.ClientPerMinute == 0 {
		l.ClientPerMinute = d.ClientPerMinute
	}
	if l.AddressPerMinute == 0 {
		l.AddressPerMinute = d.AddressPerMinute
	}
	return l
}

package documents

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/sportello/sportello/functions/internal/domain/apperr"
	"github.com/sportello/sportello/functions/internal/domain/text"
)

// ContentTypes are the documents a counter exchanges: PDF, scans and
// photos (JPEG, PNG), and files signed with a qualified signature (CAdES,
// .p7m).
var ContentTypes = []string{"application/pdf", "image/jpeg", "image/png", "application/pkcs7-mime"}

// MaxFilename is the longest file name, in characters.
const MaxFilename = 200

// UploadRequest is the body of an upload request (POST /api/documents,
// POST /api/operator/bookings/{id}/documents): what the browser is about
// to upload.
type UploadRequest struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
}

// Validate checks every field and reports every problem, each naming its
// field. maxBytes is the largest document accepted.
func (r UploadRequest) Validate(maxBytes int64) error {
	var v apperr.Validation
	checkFilename(&v, "filename", r.Filename)
	switch {
	case r.ContentType == "":
		v.Add("content_type", apperr.Required, "required: one of %s", strings.Join(ContentTypes, ", ")).Allowed = ContentTypes
	case !allowedType(r.ContentType):
		v.Add("content_type", apperr.NotAllowed, "%q is not accepted: send one of %s", r.ContentType, strings.Join(ContentTypes, ", ")).Allowed = ContentTypes
	}
	switch {
	case r.Size <= 0:
		v.Add("size", apperr.Required, "required: the file's size in bytes, at least 1")
	case r.Size > maxBytes:
		v.Add("size", apperr.TooBig, "the file is larger than the limit of %s (%d bytes)", human(maxBytes), maxBytes).With(maxBytes)
	}
	return v.Err()
}

func allowedType(t string) bool {
	for _, c := range ContentTypes {
		if t == c {
			return true
		}
	}
	return false
}

// checkFilename adds the problem of a file name, if any. A name is shown
// to both sides and offered again on download: it must be one plain name
// (the text rules, single line), not a path, without bidirectional-override
// characters that could disguise it (an "invoice\u202Efdp.exe").
func checkFilename(v *apperr.Validation, field, name string) {
	before := len(v.Fields())
	text.Check(v, field, name, text.Rules{Required: true, Max: MaxFilename})
	if len(v.Fields()) > before {
		return
	}
	switch {
	case strings.ContainsAny(name, `/\`):
		v.Add(field, apperr.InvalidFormat, "a file name, not a path: no / or \\")
	case name == "." || name == "..":
		v.Add(field, apperr.InvalidFormat, "not a file name")
	case strings.TrimSpace(name) != name:
		v.Add(field, apperr.InvalidFormat, "starts or ends with a space")
	case strings.IndexFunc(name, func(c rune) bool { return unicode.Is(unicode.Bidi_Control, c) }) >= 0:
		v.Add(field, apperr.InvalidText, "contains a bidirectional control character")
	}
}

// human writes a size in MiB or KiB for messages.
func human(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}

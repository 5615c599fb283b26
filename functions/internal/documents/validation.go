package documents

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sportello/sportello/functions/internal/apperr"
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
	if msg := filenameProblem(r.Filename); msg != "" {
		v.Add("filename", "%s", msg)
	}
	switch {
	case r.ContentType == "":
		v.Add("content_type", "required: one of %s", strings.Join(ContentTypes, ", "))
	case !allowedType(r.ContentType):
		v.Add("content_type", "%q is not accepted: send one of %s", r.ContentType, strings.Join(ContentTypes, ", "))
	}
	switch {
	case r.Size <= 0:
		v.Add("size", "required: the file's size in bytes, at least 1")
	case r.Size > maxBytes:
		v.Add("size", "the file is larger than the limit of %s (%d bytes)", human(maxBytes), maxBytes)
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

// filenameProblem says what is wrong with a file name, or "". A name is
// shown to both sides and offered again on download: it must be one
// plain name, not a path, without control or bidirectional-override
// characters that could disguise it (an "invoice\u202Efdp.exe").
func filenameProblem(name string) string {
	switch {
	case strings.TrimSpace(name) == "":
		return "required: the file's name"
	case !utf8.ValidString(name):
		return "not valid UTF-8"
	case utf8.RuneCountInString(name) > MaxFilename:
		return fmt.Sprintf("longer than %d characters", MaxFilename)
	case strings.ContainsAny(name, `/\`):
		return "a file name, not a path: no / or \\"
	case name == "." || name == "..":
		return "not a file name"
	case strings.TrimSpace(name) != name:
		return "starts or ends with a space"
	}
	for _, c := range name {
		if unicode.IsControl(c) || unicode.Is(unicode.Bidi_Control, c) || c == '\uFEFF' {
			return fmt.Sprintf("contains the control character %U", c)
		}
	}
	return ""
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

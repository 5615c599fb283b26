package function

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
)

// crashAfterEvent is the fault tests' crash of a consumer after it
// committed and before it answered the broker, the one moment a crash
// makes the broker redeliver an event whose effect is already done. When
// dir is empty (always in production: FAULT_CRASH_DIR is for the local
// stack's fault tests) it is next itself. Otherwise, once the file
// <dir>/<name> exists, the next event next handles (a 2xx to a POST of
// /) removes it and kills the process with SIGKILL before the answer
// leaves: an armed crash happens once.
func crashAfterEvent(dir, name string, next http.Handler) http.Handler {
	if dir == "" {
		return next
	}
	armed := filepath.Join(dir, name)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/" {
			next.ServeHTTP(w, r)
			return
		}
		held := &heldAnswer{header: w.Header(), status: http.StatusOK}
		next.ServeHTTP(held, r)
		if held.status/100 == 2 && os.Remove(armed) == nil {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the answer never leaves
		}
		w.WriteHeader(held.status)
		_, _ = w.Write(held.body.Bytes())
	})
}

// heldAnswer keeps an answer until crashAfterEvent lets it go.
type heldAnswer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (h *heldAnswer) Header() http.Header         { return h.header }
func (h *heldAnswer) WriteHeader(status int)      { h.status = status }
func (h *heldAnswer) Write(b []byte) (int, error) { return h.body.Write(b) }

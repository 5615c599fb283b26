package schedule

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestProbe(t *testing.T) { _ = cmp.Diff(1, 1) }

package commands

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestRunExecCapsOutput: a CMD flooding stdout is read to the end (it is
// not blocked) but only limit+1 bytes are kept, and the result says so.
func TestRunExecCapsOutput(t *testing.T) {
	res := runExec(context.Background(), "head -c 100000 /dev/zero", 10*time.Second, "", os.Environ(), 1000)
	if res.err != nil || !res.truncated || len(res.stdout) != 1001 {
		t.Fatalf("err %v truncated %v kept %d; want nil, true, 1001", res.err, res.truncated, len(res.stdout))
	}
	res = runExec(context.Background(), "echo out; echo first >&2; echo second >&2; exit 7", 10*time.Second, "", os.Environ(), 1000)
	if res.err == nil || !strings.Contains(res.err.Error(), "exit status 7: first") || strings.Contains(res.err.Error(), "second") {
		t.Fatalf("err %v; want exit status 7 with the first stderr line only", res.err)
	}
}

package interp_test

import (
	"strings"
	"testing"
	"time"
)

// A Loop with neither a trip count nor a condition input would run until its
// body failed: it must fail at once with a clear error instead.
func TestLoopWithoutBoundFails(t *testing.T) {
	done := make(chan error, 1)
	go func() {
		_, err := loopModel(nil, nil).run(t, 13)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "never end") {
			t.Fatalf("want an error saying the loop would never end, got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the unbounded loop did not fail promptly")
	}
}

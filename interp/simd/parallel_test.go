package simd

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// TestParallel: every index runs once, from concurrent callers too, with
// more threads than indices or than helpers; a panic reaches the caller.
func TestParallel(t *testing.T) {
	for _, tc := range []struct{ n, threads int }{{0, 4}, {1, 4}, {7, 1}, {7, 2}, {100, 3}, {1000, 8}} {
		counts := make([]atomic.Int32, tc.n)
		Parallel(tc.n, tc.threads, func(i int) { counts[i].Add(1) })
		for i := range counts {
			if c := counts[i].Load(); c != 1 {
				t.Fatalf("n=%d threads=%d: index %d ran %d times", tc.n, tc.threads, i, c)
			}
		}
	}
	var wg sync.WaitGroup
	var total atomic.Int64
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < 200; r++ {
				Parallel(50, 2, func(i int) { total.Add(int64(i)) })
			}
		}()
	}
	wg.Wait()
	if want := int64(4 * 200 * (49 * 50 / 2)); total.Load() != want {
		t.Fatalf("concurrent callers: sum %d, want %d", total.Load(), want)
	}
	func() {
		defer func() {
			if r := recover(); r == nil || fmt.Sprint(r) != "boom 3" {
				t.Fatalf("recovered %v, want boom 3", r)
			}
		}()
		Parallel(8, 2, func(i int) {
			if i == 3 {
				panic(fmt.Sprint("boom ", i))
			}
		})
	}()
}

// BenchmarkParallelHandoff is the cost of one small parallel region, as a
// network pays per layer.
func BenchmarkParallelHandoff(b *testing.B) {
	var sink atomic.Int64
	for b.Loop() {
		Parallel(2, 2, func(i int) { sink.Add(int64(i)) })
	}
}

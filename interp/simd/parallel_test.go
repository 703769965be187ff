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
	for _, tc := range []struct{ n, threads int }{{0, 4}, {1, 4}, {7, 1}, {7, 2}, {100, 3}, {1000, 8}, {1000, 12}, {5, 3}} {
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

// TestJobShares: a job's shares cover its indices once each, in contiguous
// runs per thread; a thread takes its own share from the front and the
// others' from the back, and thread k past maxShares starts on share
// k mod maxShares.
func TestJobShares(t *testing.T) {
	for _, tc := range []struct{ n, threads int }{{1, 2}, {7, 2}, {16, 2}, {10, 3}, {100, 20}} {
		j := newJob(func(int) {}, nil, tc.n, tc.threads)
		lo := 0
		for k := range j.nshares {
			v := j.shares[k].Load()
			if int(v>>32) != lo || int(v&(1<<32-1)) < lo {
				t.Fatalf("n=%d threads=%d: share %d is [%d, %d), want it to start at %d", tc.n, tc.threads, k, v>>32, v&(1<<32-1), lo)
			}
			lo = int(v & (1<<32 - 1))
		}
		if lo != tc.n {
			t.Fatalf("n=%d threads=%d: shares end at %d", tc.n, tc.threads, lo)
		}
	}
	j := newJob(func(int) {}, nil, 10, 2) // shares [0,5) and [5,10)
	var got []int
	for _, step := range []struct {
		share int
		own   bool
	}{{0, true}, {0, true}, {0, false}, {1, true}, {1, false}, {0, false}, {0, true}, {0, true}} {
		i, ok := j.claim(step.share, step.own)
		if !ok {
			i = -1
		}
		got = append(got, i)
	}
	if want := []int{0, 1, 4, 5, 9, 3, 2, -1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("claims %v, want %v", got, want)
	}
	var order []int
	j = newJob(func(i int) { order = append(order, i) }, nil, 6, 3)
	j.left.Store(6)
	j.work(4) // a helper past the shares: starts on share 4 mod 3 = 1
	if want := []int{2, 3, 5, 4, 1, 0}; fmt.Sprint(order) != fmt.Sprint(want) {
		t.Fatalf("work(4) ran %v, want %v", order, want)
	}
}

// BenchmarkParallelHandoff is the cost of one small parallel region, as a
// network pays per layer.
func BenchmarkParallelHandoff(b *testing.B) {
	var sink atomic.Int64
	for b.Loop() {
		Parallel(2, 2, func(i int) { sink.Add(int64(i)) })
	}
}

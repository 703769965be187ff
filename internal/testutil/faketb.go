package testutil

import (
	"fmt"
	"testing"
)

// Recorder is a testing.TB that records Fatal and Skip instead of ending
// the real test, to test the helpers that call them.
type Recorder struct {
	testing.TB
	Fataled, SkipCalled bool
	Msg                 string
}

type stop struct{}

func (r *Recorder) Helper() {}

func (r *Recorder) Fatal(args ...any) {
	r.Fataled, r.Msg = true, fmt.Sprint(args...)
	panic(stop{})
}

func (r *Recorder) Fatalf(format string, args ...any) { r.Fatal(fmt.Sprintf(format, args...)) }

func (r *Recorder) Skip(args ...any) {
	r.SkipCalled, r.Msg = true, fmt.Sprint(args...)
	panic(stop{})
}

func (r *Recorder) Skipf(format string, args ...any) { r.Skip(fmt.Sprintf(format, args...)) }

// Run calls f with r, returning when f does or when it calls Fatal or Skip.
func (r *Recorder) Run(f func(tb testing.TB)) {
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(stop); !ok {
				panic(p)
			}
		}
	}()
	f(r)
}

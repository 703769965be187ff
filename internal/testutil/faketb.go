package testutil

import (
	"fmt"
	"testing"
)

// Recorder is a testing.TB that records failures and skips instead of
// acting on the real test, to test the helpers that call them: Fatal and
// Skip end the function Run runs, Error only records. Log goes to the real
// test.
type Recorder struct {
	testing.TB
	Fataled, Errored, SkipCalled bool
	Msg                          string // the last failure or skip message
}

type stop struct{}

func (r *Recorder) Helper() {}

// Failed reports whether Fatal or Error was called.
func (r *Recorder) Failed() bool { return r.Fataled || r.Errored }

func (r *Recorder) Error(args ...any) { r.Errored, r.Msg = true, fmt.Sprint(args...) }

func (r *Recorder) Errorf(format string, args ...any) { r.Error(fmt.Sprintf(format, args...)) }

func (r *Recorder) Fatal(args ...any) {
	r.Fataled, r.Msg = true, fmt.Sprint(args...)
	panic(stop{})
}

func (r *Recorder) Fatalf(format string, args ...any) { r.Fatal(fmt.Sprintf(format, args...)) }

func (r *Recorder) FailNow() { r.Fatal("FailNow") }

func (r *Recorder) Skip(args ...any) {
	r.SkipCalled, r.Msg = true, fmt.Sprint(args...)
	panic(stop{})
}

func (r *Recorder) Skipf(format string, args ...any) { r.Skip(fmt.Sprintf(format, args...)) }

func (r *Recorder) SkipNow() { r.Skip("SkipNow") }

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

// Fails reports whether f fails (Fatal or Error) on a fresh Recorder over
// t, and the message it failed with.
func Fails(t testing.TB, f func(tb testing.TB)) (bool, string) {
	r := &Recorder{TB: t}
	r.Run(f)
	return r.Failed(), r.Msg
}

package main

import (
	"fmt"
	"os"
	"time"
)

// phaseTimer prints the wall time of each phase of a command to stderr
// when ONNXSLIM_PHASES is set, for developers measuring where a large
// model's time goes (`make big`). Not part of the CLI contract.
type phaseTimer struct {
	on   bool
	last time.Time
}

func newPhaseTimer() *phaseTimer {
	return &phaseTimer{on: os.Getenv("ONNXSLIM_PHASES") != "", last: time.Now()}
}

// done prints the time since the previous phase ended.
func (p *phaseTimer) done(phase string) {
	if !p.on {
		return
	}
	now := time.Now()
	fmt.Fprintf(os.Stderr, "onnxslim: phase %-24s %7.2f s\n", phase, now.Sub(p.last).Seconds())
	p.last = now
}

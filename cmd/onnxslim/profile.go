package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/onnxslim/onnxslim/internal/stats"
	"github.com/onnxslim/onnxslim/interp"
	"github.com/onnxslim/onnxslim/interp/simd"
	"github.com/onnxslim/onnxslim/onnx"
)

// profileRuns is how many profiled runs `run --profile` times after a
// warm-up; each node's median over them is reported.
const profileRuns = 5

// warmUp runs run until the session has chosen its nodes' thread counts
// and the Go heap has cycled twice (at least 0.3 s, at most 3 s): until
// then a run's outputs land on pages the process never touched, whose first
// touch costs 10–40 µs a page on a VM, and the timed runs (a node that
// writes a graph output most) would pay it.
func warmUp(sess *interp.Session, run func() error) error {
	t0, gc0 := time.Now(), numGC()
	for first := true; ; first = false {
		if err := run(); err != nil {
			return err
		}
		d := time.Since(t0)
		if !first && !sess.Tuning() && (d >= 300*time.Millisecond && numGC() >= gc0+2 || d >= 3*time.Second) {
			return nil
		}
	}
}

// numGC is the number of garbage collections so far.
func numGC() uint32 {
	var st runtime.MemStats
	runtime.ReadMemStats(&st)
	return st.NumGC
}

// profileModel runs sess on feeds with per-node timing and prints the top
// nodes and the totals per op type to w (and Chrome trace events to
// jsonPath when it is not ""). Medians over profileRuns runs.
func profileModel(w io.Writer, sess *interp.Session, feeds map[string]*interp.Tensor, jsonPath string, top int) error {
	if err := warmUp(sess, func() error { out, err := sess.Run(feeds); sess.Recycle(out); return err }); err != nil {
		return err
	}
	var runs []*interp.Profile
	for range profileRuns {
		out, p, err := sess.RunProfile(feeds)
		if err != nil {
			return err
		}
		sess.Recycle(out)
		runs = append(runs, p)
	}
	rows := medianRows(runs)
	var total float64
	for _, r := range rows {
		total += r.ms
	}
	fmt.Fprintf(w, "profile: %d nodes, %.3f ms of node time (median of %d runs; kernels: %s)\n", len(rows), total, profileRuns, simd.Level())
	fmt.Fprintf(w, "threads: %s\n", sess.ThreadPlan())
	byTime := append([]profRow(nil), rows...)
	sort.SliceStable(byTime, func(i, j int) bool { return byTime[i].ms > byTime[j].ms })
	fmt.Fprintf(w, "\ntop nodes:\n%-32s %-18s %9s %6s %9s  %s\n", "node", "op", "ms", "share", "GFLOP/s", "output shape")
	for _, r := range byTime[:min(top, len(byTime))] {
		fmt.Fprintf(w, "%-32s %-18s %9.3f %5.1f%% %9s  %s\n", clip(r.name, 32), clip(r.op, 18), r.ms, 100*r.ms/total, rate(r.flops, r.ms), dimsText(r.out))
	}
	type opTotal struct {
		op    string
		n     int
		ms    float64
		flops int64
	}
	ops := map[string]*opTotal{}
	for _, r := range rows {
		t := ops[r.op]
		if t == nil {
			t = &opTotal{op: r.op}
			ops[r.op] = t
		}
		t.n++
		t.ms += r.ms
		t.flops += r.flops
	}
	var list []*opTotal
	for _, t := range ops {
		list = append(list, t)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ms > list[j].ms })
	fmt.Fprintf(w, "\nper op type:\n%-18s %6s %9s %6s %9s\n", "op", "nodes", "ms", "share", "GFLOP/s")
	for _, t := range list {
		fmt.Fprintf(w, "%-18s %6d %9.3f %5.1f%% %9s\n", clip(t.op, 18), t.n, t.ms, 100*t.ms/total, rate(t.flops, t.ms))
	}
	if jsonPath == "" {
		return nil
	}
	return onnx.WriteFileAtomic(jsonPath, func(f io.Writer) error { return writeTrace(f, runs[len(runs)/2]) })
}

// profRow is one node's median time and its FLOPs at the shapes it ran.
type profRow struct {
	name, op string
	ms       float64
	flops    int64
	out      []int
}

func medianRows(runs []*interp.Profile) []profRow {
	first := runs[0]
	rows := make([]profRow, len(first.Nodes))
	for i, nt := range first.Nodes {
		ts := make([]float64, 0, len(runs))
		for _, p := range runs {
			if i < len(p.Nodes) && p.Nodes[i].Node == nt.Node {
				ts = append(ts, float64(p.Nodes[i].Dur.Nanoseconds())/1e6)
			}
		}
		sort.Float64s(ts)
		r := profRow{name: nt.Node.Name, op: stats.OpKey(nt.Node), ms: ts[len(ts)/2]}
		if r.name == "" {
			r.name = fmt.Sprintf("#%d", i)
		}
		if len(nt.Out) > 0 {
			r.out = nt.Out[0]
		}
		r.flops = nodeFLOPs(nt)
		rows[i] = r
	}
	return rows
}

// nodeFLOPs counts a node's FLOPs from the shapes it actually read and wrote.
func nodeFLOPs(nt interp.NodeTime) int64 {
	shapes := map[*onnx.Value][]int{}
	for i, s := range nt.In {
		if v := nt.Node.Input(i); v != nil && s != nil {
			shapes[v] = s
		}
	}
	for i, s := range nt.Out {
		if v := nt.Node.Output(i); v != nil && s != nil {
			shapes[v] = s
		}
	}
	f, _, ok := stats.NodeFLOPs(nt.Node, func(v *onnx.Value) ([]int64, bool) {
		s, ok := shapes[v]
		if !ok {
			return nil, false
		}
		d := make([]int64, len(s))
		for i, x := range s {
			d[i] = int64(x)
		}
		return d, true
	})
	if !ok {
		return 0
	}
	return f
}

// rate is GFLOP/s; "-" where there are no FLOPs, or where the node took
// under 2 µs (a step the interpreter fused into the conv before it, whose
// work shows in that conv's time).
func rate(flops int64, ms float64) string {
	if flops == 0 || ms < 0.002 {
		return "-"
	}
	return fmt.Sprintf("%.1f", float64(flops)/ms/1e6)
}

func dimsText(s []int) string {
	if s == nil {
		return ""
	}
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n+1:] // the end of a node name says most
}

// writeTrace writes one profiled run as Chrome trace events (the JSON
// array format that chrome://tracing, Perfetto and ONNX Runtime's profiler
// use): one complete event ("ph": "X") per node, times in microseconds.
func writeTrace(w io.Writer, p *interp.Profile) error {
	type event struct {
		Name string         `json:"name"`
		Cat  string         `json:"cat"`
		Ph   string         `json:"ph"`
		Ts   float64        `json:"ts"`
		Dur  float64        `json:"dur"`
		Pid  int            `json:"pid"`
		Tid  int            `json:"tid"`
		Args map[string]any `json:"args"`
	}
	events := make([]event, 0, len(p.Nodes))
	for _, nt := range p.Nodes {
		args := map[string]any{"op_name": stats.OpKey(nt.Node), "output_shapes": nt.Out, "input_shapes": nt.In}
		if f := nodeFLOPs(nt); f > 0 {
			args["flops"] = f
		}
		events = append(events, event{Name: nt.Node.Name, Cat: "Node", Ph: "X",
			Ts: float64(nt.Start.Nanoseconds()) / 1e3, Dur: float64(nt.Dur.Nanoseconds()) / 1e3, Pid: 1, Tid: 1, Args: args})
	}
	return json.NewEncoder(w).Encode(events)
}

package quantize_test

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/onnxslim/onnxslim/internal/biggen"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
	"github.com/onnxslim/onnxslim/passes/quantize"
)

// TestLazyMatchesEager: quantize(mode=fp16) and quantize(mode=int4)
// leaving their large weights as lazy payloads (converted or quantized as
// the model is saved, read from the mapped float32 data) write the same
// bytes as converting them in the pass, through every way of writing a
// model (Save inline and with external data, WriteTo, Encode); and a lazy
// tensor read before the save (as verification does) has the eager one's
// values.
func TestLazyMatchesEager(t *testing.T) {
	for _, tc := range []struct {
		mode    string
		c       biggen.Config
		lazyMin int64
	}{
		// Width 256: weights of 256 KiB to 2 MiB (float32), under and over
		// the threshold, with values beyond float16's range.
		{"fp16", biggen.Config{Layers: 2, Width: 256, Heads: 4, FFN: 1024, Vocab: 2048, Seq: 4, Seed: 7}, 2 * onnx.SpillMin},
		// MLP weights of 32 MiB (int4 4 MiB, scales 1 MiB), attention
		// ones of 4 MiB (scales of 128 KiB, under onnx.SpillMin: streamed
		// too, handed over by the weight's payload), the vocabulary's
		// 8 MiB.
		{"int4", biggen.Config{Layers: 1, Width: 1024, Heads: 8, FFN: 8192, Vocab: 2048, Seq: 4, Seed: 7}, 4 * onnx.SpillMin},
	} {
		t.Run(tc.mode, func(t *testing.T) { testLazy(t, tc.mode, tc.c, tc.lazyMin) })
	}
}

func testLazy(t *testing.T, mode string, c biggen.Config, lazyMin int64) {
	dir := t.TempDir()
	path, _, err := biggen.Write(dir, "model.onnx", c)
	if err != nil {
		t.Fatal(err)
	}
	run := func(lazyMin int64) *onnx.Model {
		old16, old4 := quantize.SetLazyFP16Min(lazyMin), quantize.SetLazyInt4Min(lazyMin)
		defer quantize.SetLazyFP16Min(old16)
		defer quantize.SetLazyInt4Min(old4)
		m, err := onnx.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		p, err := passes.Parse("quantize(mode=" + mode + ",report=0)")
		if err != nil {
			t.Fatal(err)
		}
		var log bytes.Buffer
		if _, err := p.Run(context.Background(), m, passes.Config{Log: &log}); err != nil {
			t.Fatalf("%v\n%s", err, log.String())
		}
		return m
	}
	eager, lazy := run(math.MaxInt64), run(lazyMin)
	nLazy := 0
	lazyTensors := map[string]bool{}
	for _, v := range lazy.Graph.Initializers {
		if v.Const.IsLazy() {
			nLazy++
			lazyTensors[v.Name] = true
		}
	}
	if nLazy == 0 || nLazy == len(lazy.Graph.Initializers) {
		t.Fatalf("%d of %d initializers lazy: want some, not all", nLazy, len(lazy.Graph.Initializers))
	}
	for _, v := range eager.Graph.Initializers {
		if v.Const.IsLazy() {
			t.Fatalf("eager run left %s lazy", v.Name)
		}
	}

	save := func(m *onnx.Model, name string, opts onnx.SaveOptions) (model, data []byte) {
		out := filepath.Join(dir, name+".onnx")
		if opts.ExternalData {
			opts.ExternalFile = name + ".data"
		}
		if err := onnx.Save(m, out, opts); err != nil {
			t.Fatal(err)
		}
		model, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if opts.ExternalData {
			if data, err = os.ReadFile(filepath.Join(dir, name+".data")); err != nil {
				t.Fatal(err)
			}
		}
		return model, data
	}
	for _, tc := range []struct {
		name string
		opts onnx.SaveOptions
	}{
		{"inline", onnx.SaveOptions{}},
		{"external", onnx.SaveOptions{ExternalData: true}},
		{"external-unaligned", onnx.SaveOptions{ExternalData: true, ExternalAlign: 3}},
	} {
		em, ed := save(eager, "e-"+tc.name, tc.opts)
		lm, ld := save(lazy, "l-"+tc.name, tc.opts)
		// The model files name their data files: compare with the names swapped.
		lm = bytes.ReplaceAll(lm, []byte("l-"+tc.name+".data"), []byte("e-"+tc.name+".data"))
		if !bytes.Equal(em, lm) || !bytes.Equal(ed, ld) {
			t.Errorf("%s: lazy save differs from eager (model %d/%d bytes, data %d/%d)", tc.name, len(lm), len(em), len(ld), len(ed))
		}
	}
	var ew, lw bytes.Buffer
	if _, err := onnx.WriteTo(&ew, eager); err != nil {
		t.Fatal(err)
	}
	if _, err := onnx.WriteTo(&lw, lazy); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ew.Bytes(), lw.Bytes()) {
		t.Error("WriteTo: lazy differs from eager")
	}
	// The saves streamed the lazy payloads of onnx.LazyMin or more without
	// keeping them (smaller ones are made whole).
	streamed := 0
	for _, v := range lazy.Graph.Initializers {
		if !lazyTensors[v.Name] || v.Const.ByteSize() < onnx.LazyMin {
			continue
		}
		streamed++
		if !v.Const.IsLazy() {
			t.Fatalf("%s was made by a save", v.Name)
		}
	}
	if streamed == 0 {
		t.Fatal("no payload large enough to stream")
	}
	// Reading values before a save computes them (and keeps them); for
	// int4, a scale tensor before its weight (computed on its own).
	byName := map[string]*onnx.Tensor{}
	for _, v := range eager.Graph.Initializers {
		byName[v.Name] = v.Const
	}
	inits := append([]*onnx.Value{}, lazy.Graph.Initializers...)
	slices.Reverse(inits)
	for _, v := range inits {
		if !lazyTensors[v.Name] {
			continue
		}
		got, err := v.Const.Data()
		if err != nil {
			t.Fatal(err)
		}
		want, _ := byName[v.Name].Data()
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: values read before the save differ", v.Name)
		}
		if v.Const.IsLazy() {
			t.Fatalf("%s still lazy after Data", v.Name)
		}
		t.Logf("%s: %s read before the save", mode, v.Name)
		break // one is enough: the rest are made by Encode below
	}
	eb, err := onnx.Encode(eager)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := onnx.Encode(lazy)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(eb, lb) {
		t.Error("Encode: lazy differs from eager")
	}
	if !bytes.Equal(eb, ew.Bytes()) {
		t.Error("Encode and WriteTo differ")
	}
}

package quantize_test

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/onnxslim/onnxslim/internal/biggen"
	"github.com/onnxslim/onnxslim/onnx"
	"github.com/onnxslim/onnxslim/passes"
	"github.com/onnxslim/onnxslim/passes/quantize"
)

// TestFP16LazyMatchesEager: quantize(mode=fp16) leaving its large float16
// weights as lazy payloads (converted as the model is saved, read from the
// mapped float32 data) writes the same bytes as converting them in the
// pass, through every way of writing a model (Save inline and with
// external data, WriteTo, Encode); and a lazy weight read before the save
// (as verification does) has the eager one's values.
func TestFP16LazyMatchesEager(t *testing.T) {
	dir := t.TempDir()
	// Width 256: weights of 256 KiB to 8 MiB (float32), under and over the
	// lazy threshold set below, with values beyond float16's range.
	c := biggen.Config{Layers: 2, Width: 256, Heads: 4, FFN: 1024, Vocab: 2048, Seq: 4, Seed: 7}
	path, _, err := biggen.Write(dir, "model.onnx", c)
	if err != nil {
		t.Fatal(err)
	}
	run := func(lazyMin int64) *onnx.Model {
		old := quantize.SetLazyFP16Min(lazyMin)
		defer quantize.SetLazyFP16Min(old)
		m, err := onnx.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		p, err := passes.Parse("quantize(mode=fp16,report=0)")
		if err != nil {
			t.Fatal(err)
		}
		var log bytes.Buffer
		if _, err := p.Run(context.Background(), m, passes.Config{Log: &log}); err != nil {
			t.Fatalf("%v\n%s", err, log.String())
		}
		return m
	}
	eager, lazy := run(math.MaxInt64), run(2*onnx.SpillMin)
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
	// The saves streamed the lazy payloads without keeping them.
	for _, v := range lazy.Graph.Initializers {
		if lazyTensors[v.Name] && !v.Const.IsLazy() {
			t.Fatalf("%s was made by a save", v.Name)
		}
	}
	// Reading values before a save computes them (and keeps them).
	byName := map[string]*onnx.Tensor{}
	for _, v := range eager.Graph.Initializers {
		byName[v.Name] = v.Const
	}
	for _, v := range lazy.Graph.Initializers {
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

package onnx

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// bytesPayload is a Payload over fixed bytes, written in small pieces.
type bytesPayload []byte

func (p bytesPayload) Len() int64 { return int64(len(p)) }

func (p bytesPayload) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for b := []byte(p); len(b) > 0; {
		k, err := w.Write(b[:min(len(b), 4000)])
		n += int64(k)
		if err != nil {
			return n, err
		}
		b = b[k:]
	}
	return n, nil
}

// TestLazySizes: lazy tensors either side of LazyMin and SpillMin are
// written as the tensors of their bytes would be, by every way of writing
// a model — Save inline (the model file written directly or through the
// data writer) and with external data (small placeholders staying in the
// model file, or going to the data file), WriteTo, Encode — and those of
// LazyMin or more are never made by a save (their placeholders are
// address space only: marshalling one would fault).
func TestLazySizes(t *testing.T) {
	defer func(v int) { directSaveMin = v }(directSaveMin)
	sizes := []int{LazyMin - 4, LazyMin, 3*LazyMin + 8, SpillMin + 4}
	build := func(lazy bool) *Model {
		g := &Graph{Name: "g"}
		m := &Model{IRVersion: 8, Opsets: []OpsetID{{Version: 17}}, Graph: g}
		for i, n := range sizes {
			raw := make([]byte, n)
			for k := range raw {
				raw[k] = byte(k*7 + i)
			}
			name := "t" + strconv.Itoa(i)
			dims := []int64{int64(n / 4)}
			tn := NewTensor(name, Float, dims, raw)
			if lazy {
				tn = NewLazyTensor(name, Float, dims, bytesPayload(raw))
			}
			g.Outputs = append(g.Outputs, g.AddInitializer(name, tn))
		}
		return m
	}
	want, err := Encode(build(false))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		direct int // directSaveMin
		opts   SaveOptions
	}{
		{"inline", 64 << 20, SaveOptions{}},
		{"inline through the data writer", 0, SaveOptions{}},
		{"external", 64 << 20, SaveOptions{ExternalData: true}},
		{"external, small ones inline", 0, SaveOptions{ExternalData: true, ExternalThreshold: 2 * SpillMin}},
	} {
		directSaveMin = tc.direct
		dir := t.TempDir()
		for _, lazy := range []bool{false, true} {
			m := build(lazy)
			path := filepath.Join(dir, strconv.FormatBool(lazy)+".onnx")
			opts := tc.opts
			opts.ExternalFile = "eager.data"
			if lazy {
				opts.ExternalFile = "lazy1.data" // as long as eager.data
			}
			if err := Save(m, path, opts); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			for i, v := range m.Graph.Initializers {
				if lazy && sizes[i] >= LazyMin && !v.Const.IsLazy() {
					t.Errorf("%s: %s (%d bytes) was made by the save", tc.name, v.Name, sizes[i])
				}
			}
		}
		read := func(name string) []byte {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			return b
		}
		em, lm := read("false.onnx"), bytes.ReplaceAll(read("true.onnx"), []byte("lazy1.data"), []byte("eager.data"))
		if !bytes.Equal(em, lm) || !bytes.Equal(read("eager.data"), read("lazy1.data")) {
			t.Errorf("%s: the lazy model's files differ from the eager one's (model %d/%d bytes, data %d/%d)", tc.name, len(lm), len(em), len(read("lazy1.data")), len(read("eager.data")))
		}
		if !tc.opts.ExternalData && !bytes.Equal(em, want) {
			t.Errorf("%s: the saved model differs from Encode's", tc.name)
		}
	}
	var b bytes.Buffer
	if _, err := WriteTo(&b, build(true)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Error("WriteTo of the lazy model differs from Encode of the eager one")
	}
	if got, err := Encode(build(true)); err != nil || !bytes.Equal(got, want) {
		t.Errorf("Encode of the lazy model differs (%v)", err)
	}
}

// TestStage: a staged model is nowhere to be seen until Commit, which
// writes what SaveFile writes; Discard leaves the folder as it was; a save
// whose context has ended stops with its error and leaves nothing.
func TestStage(t *testing.T) {
	defer func(v int) { directSaveMin = v }(directSaveMin)
	directSaveMin = 0
	g := &Graph{Name: "g"}
	m := &Model{IRVersion: 8, Opsets: []OpsetID{{Version: 17}}, Graph: g}
	raw := make([]byte, 3*SpillMin)
	for k := range raw {
		raw[k] = byte(k * 13)
	}
	g.Outputs = append(g.Outputs, g.AddInitializer("w", NewTensor("w", Float, []int64{int64(len(raw) / 4)}, raw)))
	for _, opts := range []SaveOptions{{}, {ExternalData: true}} {
		dir := t.TempDir()
		want := filepath.Join(dir, "want.onnx")
		if _, err := SaveFile(m, want, opts); err != nil {
			t.Fatal(err)
		}
		entries := func() int {
			es, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			return len(es)
		}
		before := entries()
		out := filepath.Join(dir, "have.onnx") // as long as want.onnx
		st, err := Stage(m, out, opts)
		if err != nil {
			t.Fatal(err)
		}
		if n := entries(); n != before {
			t.Errorf("external %v: %d files in the folder while staged, want %d", opts.ExternalData, n, before)
		}
		st.Discard()
		if n := entries(); n != before {
			t.Errorf("external %v: %d files after Discard, want %d", opts.ExternalData, n, before)
		}
		if st, err = Stage(m, out, opts); err != nil {
			t.Fatal(err)
		}
		if err := st.Commit(); err != nil {
			t.Fatal(err)
		}
		a, _ := os.ReadFile(want)
		b, _ := os.ReadFile(out)
		if len(a) == 0 || !bytes.Equal(a, bytes.ReplaceAll(b, []byte("have.data"), []byte("want.data"))) {
			t.Errorf("external %v: the committed model differs from SaveFile's", opts.ExternalData)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		opts.Context = ctx
		if _, err := Stage(m, filepath.Join(dir, "cancelled.onnx"), opts); !errors.Is(err, context.Canceled) {
			t.Errorf("external %v: a cancelled save returned %v", opts.ExternalData, err)
		}
		if n := entries(); n != before+1+len(st.External) {
			t.Errorf("external %v: %d files after the cancelled save, want %d", opts.ExternalData, n, before+1+len(st.External))
		}
	}
}

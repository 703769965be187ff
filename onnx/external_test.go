package onnx

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/onnxslim/onnxslim/internal/testdata"
)

// externalModel writes a model with n float initializers of size floats
// each (distinct, NaN and -0 included) to dir/name + name.data and returns
// its path.
func externalModel(t *testing.T, dir, name string, n, size int) string {
	t.Helper()
	g := &Graph{Name: "g"}
	m := &Model{IRVersion: 8, Opsets: []OpsetID{{Version: 17}}, Graph: g}
	x := g.AddInput("x", TensorType(Float, ShapeOf(int64(size))))
	y := x
	var data bytes.Buffer
	for i := 0; i < n; i++ {
		vals := make([]float32, size)
		for j := range vals {
			vals[j] = float32(i*size+j) * 0.25
		}
		vals[0] = float32(negZero())
		if size > 1 {
			vals[1] = float32(nan())
		}
		raw := NewFloatTensor("", []int64{int64(size)}, vals).Raw
		for data.Len()%64 != 0 {
			data.WriteByte(0)
		}
		off := data.Len()
		data.Write(raw)
		wname := "w" + strconv.Itoa(i)
		w := g.AddInitializer(wname, &Tensor{Name: wname, DataType: Float, Dims: []int64{int64(size)}, DataLocation: externalLocation,
			External: []StringPair{{"location", name + ".data"}, {"offset", strconv.Itoa(off)}, {"length", strconv.Itoa(len(raw))}}})
		node := g.NewNode("Add", "", "add"+strconv.Itoa(i), []*Value{y, w}, "y"+strconv.Itoa(i))
		g.Append(node)
		y = node.Output(0)
	}
	g.Outputs = append(g.Outputs, y)
	if err := os.WriteFile(filepath.Join(dir, name+".data"), data.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := Save(m, path, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	return path
}

func negZero() float64 { return -1 / posInf() }
func posInf() float64  { x := 0.0; return 1 / x }
func nan() float64     { x := 0.0; return x / x }

// payloads maps each initializer's name to its bytes.
func payloads(t *testing.T, m *Model) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, v := range m.Graph.Initializers {
		b, err := v.Const.Data()
		if err != nil {
			t.Fatal(err)
		}
		out[v.Name] = b
	}
	return out
}

// TestExternalRoundTrip: a model with external data, saved with external
// data, inline, or again with external data, loads with every tensor bit
// for bit the same (NaN and -0 included); the data file is written only
// when asked.
func TestExternalRoundTrip(t *testing.T) {
	src := externalModel(t, t.TempDir(), "m.onnx", 5, 1000)
	m, err := Load(src)
	if err != nil {
		t.Fatal(err)
	}
	want := payloads(t, m)
	if fs := m.ExternalFiles(); len(fs) != 1 || fs[0].Location != "m.onnx.data" || fs[0].Tensors != 5 || fs[0].TensorBytes != 5*4000 {
		t.Fatalf("ExternalFiles = %+v, want one file with 5 tensors of 4000 bytes", fs)
	}
	for _, tc := range []struct {
		name string
		opts SaveOptions
		data int // data files
	}{
		{"inline", SaveOptions{}, 0},
		{"external", SaveOptions{ExternalData: true}, 1},
		{"external 4 KiB aligned, threshold above the tensors", SaveOptions{ExternalData: true, ExternalAlign: 4096, ExternalThreshold: 1 << 20}, 1},
		{"external in files of 9000 bytes", SaveOptions{ExternalData: true, ExternalFileBytes: 9000}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out.onnx")
			saved, err := SaveFile(m, out, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			_, statErr := os.Stat(filepath.Join(dir, "out.data"))
			if (statErr == nil) != (tc.data > 0) || len(saved.External) != tc.data {
				t.Fatalf("out.data present: %v, reported %+v; want %d data files", statErr == nil, saved.External, tc.data)
			}
			back, err := Load(out)
			if err != nil {
				t.Fatal(err)
			}
			got := payloads(t, back)
			for name, w := range want {
				if !bytes.Equal(got[name], w) {
					t.Errorf("tensor %s changed in the round trip", name)
				}
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1+len(saved.External) {
				t.Errorf("files left in the output folder: %v", entries)
			}
		})
	}
}

// TestExternalIsMapped: after Load, a tensor's bytes lie in a mapping of
// its data file (/proc/self/maps), not in memory read from it.
func TestExternalIsMapped(t *testing.T) {
	if _, err := os.Stat("/proc/self/maps"); err != nil {
		testdata.Missing(t, "no /proc/self/maps on this system: the mapping cannot be observed")
	}
	dir := t.TempDir()
	m, err := Load(externalModel(t, dir, "mapped.onnx", 2, 5000))
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "mapped.onnx.data")
	for _, v := range m.Graph.Initializers {
		addr := uintptr(unsafe.Pointer(&v.Const.Raw[0]))
		if !inMapping(t, addr, data) {
			t.Errorf("tensor %s at %#x is not in a mapping of %s", v.Name, addr, data)
		}
	}
}

func inMapping(t *testing.T, addr uintptr, path string) bool {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	real, _ := filepath.EvalSymlinks(path)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || (fields[5] != path && fields[5] != real) {
			continue
		}
		var lo, hi uintptr
		if _, err := fmt.Sscanf(fields[0], "%x-%x", &lo, &hi); err == nil && addr >= lo && addr < hi {
			return true
		}
	}
	return false
}

// TestAutoExternal: a model over the protobuf limit is written with
// external data without being asked, with a note; the result round-trips.
func TestAutoExternal(t *testing.T) {
	m, err := Load(externalModel(t, t.TempDir(), "big.onnx", 3, 3000))
	if err != nil {
		t.Fatal(err)
	}
	want := payloads(t, m)
	defer func(old int) { protoLimit = old }(protoLimit)
	protoLimit = 10000 // the model is 36 kB inline
	out := filepath.Join(t.TempDir(), "out.onnx")
	var notes []string
	saved, err := SaveFile(m, out, SaveOptions{Note: func(s string) { notes = append(notes, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "out.data") || len(saved.External) != 1 || saved.External[0].Tensors != 3 {
		t.Fatalf("notes %q, external %+v; want a note naming out.data and 3 tensors in it", notes, saved.External)
	}
	back, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	for name, w := range want {
		if !bytes.Equal(payloads(t, back)[name], w) {
			t.Errorf("tensor %s changed", name)
		}
	}
	// Still too large without the tensors: a clear error, no output.
	protoLimit = 100
	out2 := filepath.Join(t.TempDir(), "out2.onnx")
	if err := Save(m, out2, SaveOptions{}); err == nil || !strings.Contains(err.Error(), "2 GiB") {
		t.Errorf("err = %v, want the 2 GiB limit named", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(out2)); len(entries) != 0 {
		t.Errorf("a failed save left %v", entries)
	}
}

//go:build unix

package onnx

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// perTensorModel writes a model whose n float initializers of size floats
// each lie in a data file of their own (as exporters that write one file
// per tensor do) and returns its path.
func perTensorModel(t *testing.T, dir string, n, size int) string {
	t.Helper()
	g := &Graph{Name: "g"}
	m := &Model{IRVersion: 8, Opsets: []OpsetID{{Version: 17}}, Graph: g}
	y := g.AddInput("x", TensorType(Float, ShapeOf(int64(size))))
	for i := range n {
		vals := make([]float32, size)
		for j := range vals {
			vals[j] = float32(i*size+j) * 0.5
		}
		raw := NewFloatTensor("", []int64{int64(size)}, vals).Raw
		name := "w" + strconv.Itoa(i)
		if err := os.WriteFile(filepath.Join(dir, name+".bin"), raw, 0o644); err != nil {
			t.Fatal(err)
		}
		w := g.AddInitializer(name, &Tensor{Name: name, DataType: Float, Dims: []int64{int64(size)}, DataLocation: externalLocation,
			External: []StringPair{{"location", name + ".bin"}}})
		node := g.NewNode("Add", "", "add"+strconv.Itoa(i), []*Value{y, w}, "y"+strconv.Itoa(i))
		g.Append(node)
		y = node.Output(0)
	}
	g.Outputs = append(g.Outputs, y)
	path := filepath.Join(dir, "m.onnx")
	if err := Save(m, path, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	return path
}

// keptFiles counts the mapped files kept open.
func keptFiles() int {
	mappedFiles.Lock()
	defer mappedFiles.Unlock()
	n := 0
	for _, m := range mappedFiles.list {
		if m.whole {
			n++
		}
	}
	return n
}

// openFiles counts the process's open file descriptors.
func openFiles(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open files: %v", err)
	}
	return len(fds)
}

// TestManyDataFiles: a model with a data file per tensor, more files than
// the process may keep open, loads twice (as the command does: the model
// and the untouched original) and saves with every tensor bit for bit the
// same, while the files kept open stay within a quarter of the limit (the
// rest are read through their mappings; a second load shares the first's).
func TestManyDataFiles(t *testing.T) {
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Skipf("no RLIMIT_NOFILE: %v", err)
	}
	// Files earlier tests mapped stay open for the life of the process:
	// the limit leaves room for a dozen more, and the model has more files
	// than the process may open.
	before := openFiles(t)
	limit := uint64(max(before+40, 4*(keptFiles()+12)))
	n := int(limit) - before + 20
	path := perTensorModel(t, t.TempDir(), n, 1000)
	lower := old
	lower.Cur = limit
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lower); err != nil {
		t.Skipf("cannot lower RLIMIT_NOFILE: %v", err)
	}
	defer unix.Setrlimit(unix.RLIMIT_NOFILE, &old)
	if keptFilesMax() != int(limit/4) {
		t.Fatalf("keptFilesMax = %d under a limit of %d, want %d", keptFilesMax(), limit, limit/4)
	}
	a, err := Load(path)
	if err != nil {
		t.Fatalf("first load with %d data files under a limit of %d open files: %v", n, limit, err)
	}
	b, err := Load(path)
	if err != nil {
		t.Fatalf("second load: %v", err)
	}
	if open := openFiles(t) - before; open > 12 {
		t.Errorf("%d more files open after loading %d data files twice, want at most 12", open, n)
	}
	kept := 0
	for i, v := range a.Graph.Initializers {
		fa, _, okA := fileOf(v.Const.Raw)
		fb, _, okB := fileOf(b.Graph.Initializers[i].Const.Raw)
		if okA {
			kept++
			if !okB || fa != fb {
				t.Errorf("tensor %s: the second load does not share the first's open data file", v.Name)
			}
		}
	}
	if kept == 0 {
		t.Errorf("no data file kept open (direct reads need one)")
	}
	want := payloads(t, a)
	if len(want) != n {
		t.Fatalf("%d initializers loaded, want %d", len(want), n)
	}
	for i, m := range []*Model{a, b} {
		out := filepath.Join(t.TempDir(), "out.onnx")
		if _, err := SaveFile(m, out, SaveOptions{ExternalData: true}); err != nil {
			t.Fatalf("save of load %d: %v", i+1, err)
		}
		back, err := Load(out)
		if err != nil {
			t.Fatal(err)
		}
		got := payloads(t, back)
		for name, w := range want {
			if !bytes.Equal(got[name], w) {
				t.Errorf("load %d: tensor %s changed in the round trip", i+1, name)
			}
		}
	}
}

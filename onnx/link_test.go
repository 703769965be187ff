package onnx

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestLinkData: with LinkData, the input's data file is linked beside the
// output (the same file, not a copy) for the tensors that go out unchanged,
// which keep their offsets in it; changed ones go to a data file written
// anew. The output loads bit for bit as the model was saved, in the same
// folder, another folder, or over the input itself; without LinkData the
// data is copied.
func TestLinkData(t *testing.T) {
	if !mapsFiles || runtime.GOOS != "linux" {
		t.Skip("LinkData links on Linux only (elsewhere it writes the data, as TestExternalRoundTrip checks)")
	}
	dir := t.TempDir()
	src := externalModel(t, dir, "m.onnx", 5, 1000)
	srcData, err := os.Stat(src + ".data")
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(src)
	if err != nil {
		t.Fatal(err)
	}
	// Two tensors change (in memory now); three stay views of m.onnx.data.
	for _, name := range []string{"w1", "w3"} {
		v := m.Graph.ValueByName(name)
		vals := make([]float32, 1000)
		for i := range vals {
			vals[i] = float32(i) - 7.5
		}
		v.Const = NewFloatTensor(name, []int64{1000}, vals)
	}
	want := payloads(t, m)
	same := func(path string) bool {
		st, err := os.Stat(path)
		return err == nil && os.SameFile(st, srcData)
	}
	for _, tc := range []struct {
		name     string
		out      string
		opts     SaveOptions
		linked   string // the data file that must be the input's
		written  string // the data file written with the changed tensors
		dirFiles int    // files in out's folder after the save
	}{
		{"same folder", filepath.Join(dir, "out.onnx"), SaveOptions{ExternalData: true, LinkData: true}, "out.data", "out.1.data", 0},
		{"another folder", filepath.Join(t.TempDir(), "out.onnx"), SaveOptions{ExternalData: true, LinkData: true}, "out.data", "out.1.data", 3},
		{"over the input, its data file's name", src, SaveOptions{ExternalData: true, LinkData: true, ExternalFile: "m.onnx.data"}, "m.onnx.data", "m.onnx.1.data", 0},
		{"not asked", filepath.Join(t.TempDir(), "out.onnx"), SaveOptions{ExternalData: true}, "", "out.data", 2},
		// Another file system (tmpfs where there is one): no link can be
		// made, so the data is written as without LinkData.
		{"another file system", otherFS(t, dir, "out.onnx"), SaveOptions{ExternalData: true, LinkData: true}, "", "out.data", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.out == "" {
				t.Skip("no other file system to write to (/dev/shm)")
			}
			saved, err := SaveFile(m, tc.out, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			odir := filepath.Dir(tc.out)
			if tc.linked != "" {
				if !same(filepath.Join(odir, tc.linked)) {
					t.Errorf("%s is not the input's data file", tc.linked)
				}
				if len(saved.External) != 2 || !saved.External[0].Linked || saved.External[0].Location != tc.linked || saved.External[0].Tensors != 3 ||
					saved.External[0].TensorBytes != 3*4000 || saved.External[0].Bytes != srcData.Size() || saved.External[1].Linked || saved.External[1].Tensors != 2 {
					t.Errorf("saved %+v: want %s linked with 3 tensors, then %s with 2", saved.External, tc.linked, tc.written)
				}
			} else if len(saved.External) != 1 || saved.External[0].Linked {
				t.Errorf("saved %+v: want one data file written", saved.External)
			}
			w := filepath.Join(odir, tc.written)
			if same(w) {
				t.Errorf("%s is the input's data file; want one written", tc.written)
			}
			if st, err := os.Stat(w); err != nil || tc.linked != "" && st.Size() >= srcData.Size() {
				t.Errorf("%s: %v, size %v: want the changed tensors only", tc.written, err, st)
			}
			back, err := Load(tc.out)
			if err != nil {
				t.Fatal(err)
			}
			got := payloads(t, back)
			for name, b := range want {
				if !bytes.Equal(got[name], b) {
					t.Errorf("tensor %s: not the bytes saved", name)
				}
			}
			if entries, _ := os.ReadDir(odir); tc.dirFiles > 0 && len(entries) != tc.dirFiles {
				t.Errorf("files in the output folder: %v, want %d", entries, tc.dirFiles)
			}
			for _, e := range mustReadDir(t, odir) {
				if e.Name()[0] == '.' {
					t.Errorf("temporary file left: %s", e.Name())
				}
			}
		})
	}
}

// otherFS returns name in a new folder on a file system other than dir's
// (/dev/shm), or "" where there is none.
func otherFS(t *testing.T, dir, name string) string {
	shm, err := os.MkdirTemp("/dev/shm", "onnxslim-link")
	if err != nil {
		return ""
	}
	t.Cleanup(func() { os.RemoveAll(shm) })
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if canLink(f, shm) {
		return "" // the same file system after all
	}
	return filepath.Join(shm, name)
}

func mustReadDir(t *testing.T, dir string) []os.DirEntry {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

package onnx

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReadAhead: Hold gives each tensor its own bytes (NaN and -0
// included, at offsets that are not block-aligned), read with direct I/O
// when the file is not in the page cache; Close points every tensor back
// at its mapping, except one a pass replaced meanwhile; nil entries are
// skipped.
func TestReadAhead(t *testing.T) {
	dir := t.TempDir()
	m, err := Load(externalModel(t, dir, "ra.onnx", 4, 300_001)) // 1.2 MB each: read ahead
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "ra.onnx.data")
	f, err := os.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	directOK := false
	if df, err := openDirect(f); err == nil {
		directOK = true
		df.Close()
	} else {
		t.Logf("no direct reads on %s (%v): only the mapping is checked", dir, err)
	}
	// The expected bytes from the file (read(2)): touching the mapping
	// would keep its pages in memory.
	file, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	var ts []*Tensor
	var views, want [][]byte
	for i, v := range m.Graph.Initializers {
		if i == 1 {
			ts, views, want = append(ts, nil), append(views, nil), append(want, nil)
		}
		_, off, ok := fileOf(v.Const.Raw)
		if !ok {
			t.Fatalf("tensor %s is not a view of a mapped data file", v.Name)
		}
		ts = append(ts, v.Const)
		views = append(views, v.Const.Raw)
		want = append(want, file[off:off+int64(len(v.Const.Raw))])
	}
	// Out of the page cache, so that the reads are direct ones.
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	ra := NewReadAhead(ts)
	direct := 0
	replaced := []byte("replaced by a pass")
	for i, tt := range ts {
		if tt == nil {
			continue
		}
		ra.Hold(i)
		if !bytes.Equal(tt.Raw, want[i]) {
			t.Fatalf("tensor %d: Hold gives other bytes than the file's", i)
		}
		if !sameSlice(tt.Raw, views[i]) {
			direct++
		}
		if i == 2 {
			tt.Raw = replaced
		}
	}
	ra.Close()
	for i, tt := range ts {
		switch {
		case tt == nil:
		case i == 2:
			if !sameSlice(tt.Raw, replaced) {
				t.Errorf("tensor %d: a payload the pass replaced was put back", i)
			}
		case !sameSlice(tt.Raw, views[i]):
			t.Errorf("tensor %d: not a view of the mapping after Close", i)
		}
	}
	if directOK && direct == 0 {
		t.Errorf("no payload was read with direct I/O from a file out of the page cache")
	}
	t.Logf("%d of %d payloads read with direct I/O", direct, len(m.Graph.Initializers))
}

// TestSaveReadsDirect: saving payloads that are views of a data file out of
// the page cache (read with direct I/O into the write buffers, at matching
// block offsets or through the bounce buffer) writes the same bytes as
// saving heap copies of them, inline (model file through dataWriter) and
// with external data.
func TestSaveReadsDirect(t *testing.T) {
	defer func(v int) { directSaveMin = v }(directSaveMin)
	directSaveMin = 0
	for _, opts := range []SaveOptions{{}, {ExternalData: true}, {ExternalData: true, ExternalAlign: 64}} {
		dir := t.TempDir()
		src := externalModel(t, dir, "in.onnx", 4, 300_001)
		heap, err := Load(src)
		if err != nil {
			t.Fatal(err)
		}
		// Heap copies from read(2): touching the mapping would keep the
		// pages in the page cache.
		file, err := os.ReadFile(filepath.Join(dir, "in.onnx.data"))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range heap.Graph.Initializers {
			_, off, ok := fileOf(v.Const.Raw)
			if !ok {
				t.Fatalf("tensor %s is not a view of a mapped data file", v.Name)
			}
			v.Const.Raw = bytes.Clone(file[off : off+int64(len(v.Const.Raw))])
		}
		for _, sub := range []string{"want", "got"} {
			if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		want := filepath.Join(dir, "want", "out.onnx")
		if _, err := SaveFile(heap, want, opts); err != nil {
			t.Fatal(err)
		}
		m, err := Load(src)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(filepath.Join(dir, "in.onnx.data"))
		if err != nil {
			t.Fatal(err)
		}
		// Out of the page cache, so that the save reads them directly.
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
			t.Fatal(err)
		}
		f.Close()
		cached := 0
		for _, v := range m.Graph.Initializers {
			if resident(v.Const.Raw) {
				cached++
			}
		}
		got := filepath.Join(dir, "got", "out.onnx")
		a0, b0 := directReads.aligned.Load(), directReads.bounced.Load()
		if _, err := SaveFile(m, got, opts); err != nil {
			t.Fatal(err)
		}
		aligned, bounced := directReads.aligned.Load()-a0, directReads.bounced.Load()-b0
		if directOK(t, f.Name()) && aligned+bounced != 4 {
			t.Errorf("%+v: %d payloads read directly at matching offsets, %d through the bounce buffer; want all 4", opts, aligned, bounced)
		}
		for _, name := range []string{".onnx", ".data"} {
			a, errA := os.ReadFile(strings.TrimSuffix(want, ".onnx") + name)
			b, errB := os.ReadFile(strings.TrimSuffix(got, ".onnx") + name)
			if errA != nil || errB != nil {
				if opts.ExternalData || name == ".onnx" {
					t.Fatalf("%+v: %v %v", opts, errA, errB)
				}
				continue
			}
			if !bytes.Equal(a, b) {
				t.Errorf("%+v: %s differs from the save of heap copies", opts, name)
			}
		}
		t.Logf("%+v: %d of 4 payloads in the page cache before the save; read directly: %d at matching offsets, %d bounced", opts, cached, aligned, bounced)
	}
}

// directOK reports whether path can be opened for direct reads.
func directOK(t *testing.T, path string) bool {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	df, err := openDirect(f)
	if err != nil {
		t.Logf("no direct reads on %s (%v)", path, err)
		return false
	}
	df.Close()
	return true
}

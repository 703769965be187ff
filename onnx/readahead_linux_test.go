package onnx

import (
	"bytes"
	"os"
	"path/filepath"
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

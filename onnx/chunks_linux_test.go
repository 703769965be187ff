package onnx

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReadChunks: ReadChunks hands out a tensor's bytes in order (NaN and
// -0 included), in pieces of at most 8 MiB that are multiples of the unit
// but for the last: read with direct I/O when the data file is out of the
// page cache (tensors of 10 MB at offsets that are multiples of 64, not
// of a block), through the mapping when the offset does not suit the unit
// or the pages are in memory; the mapping's pages stay untouched.
func TestReadChunks(t *testing.T) {
	dir := t.TempDir()
	m, err := Load(externalModel(t, dir, "rc.onnx", 3, 2_500_001))
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "rc.onnx.data")
	file, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	canDirect := directOK(t, data)
	evict := func() {
		f, err := os.Open(data)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		unit   int
		cold   bool
		direct int64 // payloads read directly, when the system allows
	}{
		{4, true, 3},
		{128, true, 2}, // the second at 64 mod 128: through the mapping
		{4, false, 0},
	} {
		if tc.cold {
			evict()
		} else {
			for _, v := range m.Graph.Initializers {
				prefetchBytes(v.Const.Raw)
				_ = bytes.Count(v.Const.Raw, []byte{1}) // touch every page
			}
		}
		before := directChunks.Load()
		for _, v := range m.Graph.Initializers {
			_, off, _ := fileOf(v.Const.Raw)
			want := file[off : off+int64(len(v.Const.Raw))]
			var got []byte
			pieces := 0
			err := ReadChunks(v.Const, tc.unit, func(b []byte) error {
				if len(b) > ChunkBytes || len(b) == 0 {
					t.Fatalf("piece of %d bytes", len(b))
				}
				if pieces > 0 && len(got)%tc.unit != 0 {
					t.Fatalf("unit %d: a piece ended at %d", tc.unit, len(got))
				}
				got = append(got, b...)
				pieces++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("unit %d cold %v: %s: other bytes than the file's", tc.unit, tc.cold, v.Name)
			}
			if pieces < 2 {
				t.Fatalf("%s: %d pieces for %d bytes", v.Name, pieces, len(want))
			}
		}
		if n := directChunks.Load() - before; canDirect && n != tc.direct {
			t.Errorf("unit %d cold %v: %d payloads read directly, want %d", tc.unit, tc.cold, n, tc.direct)
		}
		if tc.cold && canDirect && tc.unit == 4 {
			for _, v := range m.Graph.Initializers {
				if resident(v.Const.Raw) {
					t.Errorf("%s: direct reads brought the mapping's pages in", v.Name)
				}
			}
		}
	}
	// An error from f ends the reads (no hang, buffers back) and is returned.
	evict()
	stop := errors.New("stop")
	calls := 0
	if err := ReadChunks(m.Graph.Initializers[1].Const, 4, func([]byte) error { calls++; return stop }); err != stop || calls != 1 {
		t.Errorf("f's error: got %v after %d calls", err, calls)
	}
	if err := ReadChunks(m.Graph.Initializers[0].Const, 3, func([]byte) error { return nil }); err == nil {
		t.Error("unit 3 accepted")
	}
}

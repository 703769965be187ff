package onnx

import (
	"bytes"
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestDataWriter writes payloads of sizes around the buffer and block
// boundaries in uneven pieces and reads the file back: the same bytes and
// size, whether or not the file system took direct I/O.
func TestDataWriter(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, size := range []int{0, 1, directAlign - 1, directAlign, dataBufBytes, dataBufBytes + 1, 2*dataBufBytes + 4097, 3*dataBufBytes - 5} {
		want := make([]byte, size)
		rng.Read(want)
		path := filepath.Join(t.TempDir(), "data")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w := newDataWriter(context.Background(), f)
		for rest := want; len(rest) > 0; {
			k := min(len(rest), 1+rng.Intn(3*dataBufBytes/2))
			if n, err := w.Write(rest[:k]); err != nil || n != k {
				t.Fatalf("size %d: Write = %d, %v", size, n, err)
			}
			rest = rest[k:]
		}
		if err := w.Close(); err != nil {
			t.Fatalf("size %d: Close: %v", size, err)
		}
		f.Close()
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("size %d (direct %v): read back %d bytes, not the %d written", size, w.direct, len(got), len(want))
		}
	}
}

// TestSpillKeepsValues spills payloads of sizes around the block size,
// from aligned and unaligned starts, and checks every one still holds its
// values after all were spilled (a later spill must not clobber an earlier
// one's last block).
func TestSpillKeepsValues(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	type spilled struct {
		t    *Tensor
		want []byte
		from uintptr // the payload's address before Spill
	}
	var all []spilled
	for _, size := range []int{SpillMin - 1, SpillMin, SpillMin + 1, SpillMin + directAlign - 1, 3*SpillMin + 123} {
		for _, skew := range []int{0, 1} {
			buf := make([]byte, size+skew)
			raw := buf[skew:]
			rng.Read(raw)
			tt := NewTensor("w", Uint8, []int64{int64(size)}, raw)
			Spill(tt)
			all = append(all, spilled{t: tt, want: append([]byte(nil), raw...), from: addrOf(raw)})
		}
	}
	for _, s := range all {
		if !bytes.Equal(s.t.Raw, s.want) {
			t.Errorf("%d bytes: values changed by Spill", len(s.want))
		}
		if moved := addrOf(s.t.Raw) != s.from; moved != (len(s.want) >= SpillMin && runtime.GOOS != "windows") {
			t.Errorf("%d bytes: moved to the spill file: %v", len(s.want), moved)
		}
	}
}

package interp

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestUnpack4 holds the word-at-a-time unpack4 to the scalar loop, signed
// and unsigned, for every count up to 70 (whole words, odd tails, a last
// half byte) and every byte value.
func TestUnpack4(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	raw := make([]byte, 256+35)
	for i := range 256 {
		raw[i] = byte(i) // every pair of nibbles
	}
	for i := 256; i < len(raw); i++ {
		raw[i] = byte(r.IntN(256))
	}
	for _, signed := range []bool{false, true} {
		for _, n := range append([]int{2 * len(raw), 2*len(raw) - 1, 512}, upTo(70)...) {
			got, want := make([]byte, n), make([]byte, n)
			unpack4(got, raw, signed)
			unpack4Scalar(want, raw, signed)
			if !bytes.Equal(got, want) {
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("signed=%v n=%d: value %d (byte %#02x) = %d, want %d", signed, n, i, raw[i/2], int8(got[i]), int8(want[i]))
					}
				}
			}
		}
	}
	// The scalar loop itself, on a few values.
	want := []byte{0xF8, 0x07, 0x00, 0xFF} // -8, 7, 0, -1
	got := make([]byte, 4)
	unpack4Scalar(got, []byte{0x78, 0xF0}, true)
	if !bytes.Equal(got, want) {
		t.Fatalf("unpack4Scalar(0x78 0xF0, signed) = % x, want % x", got, want)
	}
}

func upTo(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func BenchmarkUnpack4(b *testing.B) {
	raw := make([]byte, 1<<20)
	dst := make([]byte, 2<<20)
	for _, k := range []struct {
		name string
		f    func(dst, raw []byte, signed bool)
	}{{"word", unpack4}, {"scalar", unpack4Scalar}} {
		b.Run(k.name, func(b *testing.B) {
			b.SetBytes(int64(len(dst)))
			for b.Loop() {
				k.f(dst, raw, true)
			}
		})
	}
}

package simd

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestGemm8Twins checks each level's 8-row kernels (a 6-row and a 2-row A
// panel) bit for bit against the same level's 6-row and 2-row kernels
// called apart: packed B, row-major B in place, taps and runs (two and
// three), with and without accumulation, depths across the unrolled loop.
func TestGemm8Twins(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 62))
	src := randSlice(r, 8192)
	src[3001] = float32(math.NaN())
	checked := 0
	for _, k := range twins() {
		if k.gemm8 == nil {
			continue
		}
		checked++
		for _, kk := range []int{1, 3, 4, 9, 64} {
			a := randSlice(r, 8*kk)
			a6, a2 := &a[0], &a[6*kk] // panels [kk][6] and [kk][2]
			bp := randSlice(r, 2*nr*kk)
			taps := make([]int32, kk)
			for i := range taps {
				taps[i] = int32(4 * (r.IntN(2048) - 1024))
			}
			var segs [2 * maxRuns]int32
			var masks [2 * maxRuns]uint16
			for i := range segs {
				segs[i] = int32(4 * (r.IntN(512) - 256))
				masks[i] = uint16(r.Uint32())
			}
			b := &src[4096]
			ldb := 2*nr + 3
			brows := randSlice(r, kk*ldb)
			for _, acc := range []bool{false, true} {
				ldc := 2*nr + r.IntN(5)
				c0 := randSlice(r, 8*ldc)
				for _, tc := range []struct {
					name  string
					got   func(c *float32)
					split func(rows int, a, c *float32)
				}{
					{"packed", func(c *float32) { k.gemm8(kk, a6, 6*kk, &bp[0], nr*kk, c, ldc, acc) },
						func(rows int, a, c *float32) { k.gemm2[rows](kk, a, &bp[0], nr*kk, c, ldc, acc) }},
					{"rows", func(c *float32) { k.gemm8Rows(kk, a6, 6*kk, &brows[0], ldb, c, ldc, acc) },
						func(rows int, a, c *float32) { k.gemmRows[rows](kk, a, &brows[0], ldb, c, ldc, acc) }},
					{"taps", func(c *float32) { k.gemm8Taps(kk, a6, 6*kk, b, nr, &taps[0], c, ldc, acc) },
						func(rows int, a, c *float32) { k.gemmTaps[rows](kk, a, b, nr, &taps[0], c, ldc, acc) }},
					{"segs2", func(c *float32) { k.gemm8Segs[2](kk, a6, 6*kk, b, &segs, &masks, &taps[0], c, ldc, acc) },
						func(rows int, a, c *float32) { k.gemmSegs[2][rows](kk, a, b, &segs, &masks, &taps[0], c, ldc, acc) }},
					{"segs3", func(c *float32) { k.gemm8Segs[3](kk, a6, 6*kk, b, &segs, &masks, &taps[0], c, ldc, acc) },
						func(rows int, a, c *float32) { k.gemmSegs[3][rows](kk, a, b, &segs, &masks, &taps[0], c, ldc, acc) }},
				} {
					got, want := append([]float32(nil), c0...), append([]float32(nil), c0...)
					tc.got(&got[0])
					tc.split(6, a6, &want[0])
					tc.split(2, a2, &want[6*ldc])
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%s %s k %d acc %v: c[%d] = %v, the 6+2 kernels %v", k.name, tc.name, kk, acc, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
	if checked == 0 && ks.gemm8 != nil {
		t.Fatal("the active level has 8-row kernels, but no twin set was checked")
	}
}

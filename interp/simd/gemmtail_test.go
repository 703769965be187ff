package simd

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestGemmTailTwins checks each level's 8- and 10-row kernels (a 6-row and
// a 2- or 4-row A panel) bit for bit against the same level's 6-row and
// r-row kernels called apart: packed B, row-major B in place, taps and
// runs (two and three), with and without accumulation, depths across the
// unrolled loop.
func TestGemmTailTwins(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 62))
	src := randSlice(r, 8192)
	src[3001] = float32(math.NaN())
	checked := 0
	for _, k := range twins() {
		for _, rt := range []int{2, 4} {
			if k.gemmTail[rt] == nil {
				continue
			}
			checked++
			for _, kk := range []int{1, 3, 4, 9, 64} {
				a := randSlice(r, (mr+rt)*kk)
				a6, a2 := &a[0], &a[6*kk] // panels [kk][6] and [kk][rt]
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
					c0 := randSlice(r, (mr+rt)*ldc)
					for _, tc := range []struct {
						name  string
						got   func(c *float32)
						split func(rows int, a, c *float32)
					}{
						{"packed", func(c *float32) { k.gemmTail[rt](kk, a6, 6*kk, &bp[0], nr*kk, c, ldc, acc) },
							func(rows int, a, c *float32) { k.gemm2[rows](kk, a, &bp[0], nr*kk, c, ldc, acc) }},
						{"rows", func(c *float32) { k.gemmTailRows[rt](kk, a6, 6*kk, &brows[0], ldb, c, ldc, acc) },
							func(rows int, a, c *float32) { k.gemmRows[rows](kk, a, &brows[0], ldb, c, ldc, acc) }},
						{"taps", func(c *float32) { k.gemmTailTaps[rt](kk, a6, 6*kk, b, nr, &taps[0], c, ldc, acc) },
							func(rows int, a, c *float32) { k.gemmTaps[rows](kk, a, b, nr, &taps[0], c, ldc, acc) }},
						{"segs2", func(c *float32) { k.gemmTailSegs[rt][2](kk, a6, 6*kk, b, &segs, &masks, &taps[0], c, ldc, acc) },
							func(rows int, a, c *float32) { k.gemmSegs[2][rows](kk, a, b, &segs, &masks, &taps[0], c, ldc, acc) }},
						{"segs3", func(c *float32) { k.gemmTailSegs[rt][3](kk, a6, 6*kk, b, &segs, &masks, &taps[0], c, ldc, acc) },
							func(rows int, a, c *float32) { k.gemmSegs[3][rows](kk, a, b, &segs, &masks, &taps[0], c, ldc, acc) }},
					} {
						got, want := append([]float32(nil), c0...), append([]float32(nil), c0...)
						tc.got(&got[0])
						tc.split(6, a6, &want[0])
						tc.split(rt, a2, &want[6*ldc])
						for i := range want {
							if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
								t.Fatalf("%s %s 6+%d rows k %d acc %v: c[%d] = %v, the panels' kernels apart %v", k.name, tc.name, rt, kk, acc, i, got[i], want[i])
							}
						}
					}
				}
			}
		}
	}
	if checked == 0 && ks.gemmTail[2] != nil {
		t.Fatal("the active level has the tail kernels, but no twin set was checked")
	}
}

// TestTileRows checks that tileRows cuts every block into tiles that cover
// it exactly, each a kernel's height starting on a 6-row panel, and ends a
// block of 12k + 8 or 12k + 4 rows (k ≥ 1, or 10 or 8 rows) on a tail
// tile where the level has one.
func TestTileRows(t *testing.T) {
	for _, k := range twins() {
		with(k, func() {
			for m := 1; m <= 64; m++ {
				var tiles []int
				for ir := 0; ir < m; ir += tiles[len(tiles)-1] {
					if ir%mr != 0 {
						t.Fatalf("%s m=%d: a tile starts at row %d", k.name, m, ir)
					}
					rows := tileRows(m, ir)
					if rows <= 0 || ir+rows > m || rows > mr && rows != 2*mr && ks.gemmTail[rows-mr] == nil {
						t.Fatalf("%s m=%d: tile of %d rows at %d", k.name, m, rows, ir)
					}
					tiles = append(tiles, rows)
				}
				last := tiles[len(tiles)-1]
				if r := m % mr; (r == 2 || r == 4) && m > mr && ks.gemmTail[r] != nil && last != mr+r {
					t.Fatalf("%s m=%d: tiles %v, want the last one %d rows", k.name, m, tiles, mr+r)
				}
			}
		})
	}
}

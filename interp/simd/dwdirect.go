package simd

import "unsafe"

// In-place 3×3 depthwise convolution: the row kernels used to copy each
// channel into a zero-bordered plane first, which on fp_landmark's and
// MobileNet's planes cost about as much as the kernel (runtime.memmove and
// dwPad.fill in a profile of `go test -bench Depthwise`). dwDirect reads
// the channel where it lies instead: the padded plane's rows are pointers
// (a padding row points at a zero row) and each block of 16 output
// columns loads, under lane masks, only the input columns inside the row,
// the others reading +0 as from the border. The masks and the blocks'
// offsets depend on the geometry alone, so they are worked out once per
// convolution.

// dwDirectLanes is the outputs a column block of the dwDirect kernels.
const dwDirectLanes = 16

// dwDirect is the plan of one convolution on the dwDirect kernels.
type dwDirect struct {
	p      *ConvParams
	rows   []*float32 // the padded plane's rows, set per channel
	blocks []int64    // per column block: input byte offset, masks, class, output byte offset
	zero   []float32  // the padding rows' zeros
	f      func(dst *float32, rows []*float32, blocks []int64, w []float32, bias float32, outRows, dstStride int)
}

// dwDirectKernel returns the level's dwDirect kernel for p (a dwDirect3x3
// convolution), nil if it has none.
func dwDirectKernel(p *ConvParams) func(dst *float32, rows []*float32, blocks []int64, w []float32, bias float32, outRows, dstStride int) {
	if p.StrideW == 2 {
		return ks.dwDirect3s2
	}
	return ks.dwDirect3s1
}

// newDwDirect plans a dwDirect3x3 convolution for the level's kernel f.
func newDwDirect(p *ConvParams, ws *workspace, f func(dst *float32, rows []*float32, blocks []int64, w []float32, bias float32, outRows, dstStride int)) dwDirect {
	s := p.StrideW
	d := dwDirect{p: p, f: f}
	d.zero = aligned(&ws.a, max(p.W, 1)+16)[16:]
	clear(d.zero)
	ph := (p.OutH-1)*s + 3
	if cap(ws.dwRows) < ph {
		ws.dwRows = make([]*float32, ph)
	}
	d.rows = ws.dwRows[:ph]
	nb := (p.OutW + dwDirectLanes - 1) / dwDirectLanes
	if cap(ws.dwBlocks) < 4*nb {
		ws.dwBlocks = make([]int64, 4*nb)
	}
	d.blocks = ws.dwBlocks[:4*nb]
	// mask has bit l set where column c0+l lies in the row.
	mask := func(c0 int) uint64 {
		var m uint64
		for l := 0; l < dwDirectLanes; l++ {
			if c := c0 + l; c >= 0 && c < p.W {
				m |= 1 << l
			}
		}
		return m
	}
	for b := 0; b < nb; b++ {
		j0 := b * dwDirectLanes
		if b == nb-1 {
			// The last block ends at OutW (overlapping the one before:
			// the same outputs again), so that it stores whole and
			// reads past the row only where the padding is.
			j0 = max(0, p.OutW-dwDirectLanes)
		}
		c0 := s*j0 - p.PadL // the block's first input column
		st := uint64(1)<<min(dwDirectLanes, p.OutW-j0) - 1
		var m [3]uint64
		if s == 1 {
			m = [3]uint64{mask(c0), mask(c0 + 1), mask(c0 + 2)}
		} else {
			m = [3]uint64{mask(c0), mask(c0 + 16), 0}
			if c := c0 + 32; c >= 0 && c < p.W {
				m[2] = 0xffff
			}
		}
		// The class: which loads need their masks (bit i: mask i); only
		// 0, 1 (a left edge: one column of padding, first) and 4 (a
		// right edge: one, last) have plain stores, the rest are 7,
		// everything masked. The kernels make 1's and 4's padding lane
		// by shifting in +0, so it must be one lane.
		cls := 0
		for i, mi := range m {
			if mi != 0xffff {
				cls |= 1 << i
			}
		}
		left, right := m[0] == 0xfffe, m[2] == 0x7fff
		if s == 2 {
			right = m[2] == 0
		}
		if cls == 1 && !left || cls == 4 && !right || (cls != 0 && cls != 1 && cls != 4) || st != 0xffff {
			cls = 7
		}
		d.blocks[4*b] = int64(4 * c0)
		d.blocks[4*b+1] = int64(m[0] | m[1]<<16 | m[2]<<32 | st<<48)
		d.blocks[4*b+2] = int64(cls)
		d.blocks[4*b+3] = int64(4 * j0)
	}
	return d
}

// run computes one channel: y (OutH×OutW) from x (H×W).
func (d *dwDirect) run(y, x, w []float32, bias float32) {
	p := d.p
	for r := range d.rows {
		ih := r - p.PadT
		if ih >= 0 && ih < p.H {
			d.rows[r] = &x[ih*p.W]
		} else {
			d.rows[r] = &d.zero[0]
		}
	}
	d.f(&y[0], d.rows, d.blocks, w[:9], bias, p.OutH, p.OutW)
}

// dwDirectGo makes the twin of the stride-s dwDirect kernels: the same
// masked loads lane by lane, then dw9 (TestDwDirectTwins).
func dwDirectGo(s int) func(dst *float32, rows []*float32, blocks []int64, w []float32, bias float32, outRows, dstStride int) {
	return func(dst *float32, rows []*float32, blocks []int64, w []float32, bias float32, outRows, dstStride int) {
		// at is tap column c of lane l in a block of row under the
		// block's masks: tap c's mask at stride 1; at stride 2 column
		// 2l+c of the 32 (their masks' bits 0..31) or the broadcast one
		// after them (bit 32).
		at := func(row *float32, off, masks int64, l, c int) float32 {
			k, bit := s*l+c, 16*c+l
			if s == 2 {
				bit = k
			}
			if masks>>bit&1 == 0 {
				return 0
			}
			return *(*float32)(unsafe.Add(unsafe.Pointer(row), off+4*int64(k)))
		}
		for o := 0; o < outRows; o++ {
			for b := 0; 4*b < len(blocks); b++ {
				off, masks, j0 := blocks[4*b], blocks[4*b+1], int(blocks[4*b+3]/4)
				for l := 0; l < dwDirectLanes; l++ {
					if masks>>(48+l)&1 == 0 {
						continue
					}
					var x [9]float32
					for r := 0; r < 3; r++ {
						for c := 0; c < 3; c++ {
							x[3*r+c] = at(rows[s*o+r], off, masks, l, c)
						}
					}
					*(*float32)(unsafe.Add(unsafe.Pointer(dst), 4*(o*dstStride+j0+l))) = dw9(&x, w, bias)
				}
			}
		}
	}
}

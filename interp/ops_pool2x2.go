package interp

import (
	"math"

	"github.com/onnxslim/onnxslim/interp/simd"
)

// pool2x2 is max or average pooling with 2×2 windows at stride 2 and no
// dilation (the usual halving of a feature map), any padding and ceil mode.
// Windows wholly inside the input run the row kernels (simd.Max2x2Rows,
// Avg2x2Rows);
// the windows that reach into the padding go through poolAt. Each output
// visits its taps in row-major order like the general loop, so the bits
// are that loop's: a maximum keeps the first of equal taps and skips NaN,
// a sum starts from +0.
func pool2x2(a *poolAttrs, g *spatialGeom, planes int, x, out []float32, threads int) {
	H, W, OH, OW := g.in[0], g.in[1], g.out[0], g.out[1]
	ph, pw := g.padB[0], g.padB[1]
	oh0, oh1 := insideWindows(H, ph, OH)
	ow0, ow1 := insideWindows(W, pw, OW)
	rows := simd.Max2x2Rows
	if a.kind != poolMax {
		rows = simd.Avg2x2Rows
	}
	// Unpadded planes of even height are one run of row pairs: a kernel
	// call for all of them.
	whole := oh0 == 0 && oh1 == OH && ow0 == 0 && ow1 == OW && ph == 0 && pw == 0 && H == 2*OH
	run := func(pl0, pl1 int) {
		if whole {
			rows(out[pl0*OH*OW:pl1*OH*OW], x[pl0*H*W:pl1*H*W], OW, (pl1-pl0)*OH, W, OW)
			return
		}
		for pl := pl0; pl < pl1; pl++ {
			xp := x[pl*H*W : (pl+1)*H*W]
			op := out[pl*OH*OW : (pl+1)*OH*OW]
			if oh1 > oh0 && ow1 > ow0 {
				ih, iw := 2*oh0-ph, 2*ow0-pw
				rows(op[oh0*OW+ow0:], xp[ih*W+iw:], ow1-ow0, oh1-oh0, W, OW)
			}
			for oh := 0; oh < OH; oh++ {
				orow := op[oh*OW : (oh+1)*OW]
				if oh < oh0 || oh >= oh1 {
					for ow := range orow {
						orow[ow] = poolAt(a, g, xp, oh, ow)
					}
					continue
				}
				for ow := 0; ow < ow0; ow++ {
					orow[ow] = poolAt(a, g, xp, oh, ow)
				}
				for ow := ow1; ow < OW; ow++ {
					orow[ow] = poolAt(a, g, xp, oh, ow)
				}
			}
		}
	}
	if threads < 2 || planes < 2 || planes*H*W < simd.ParallelMinTaps {
		run(0, planes)
		return
	}
	simd.ParallelRuns(planes, threads, run)
}

// insideWindows is the range [o0, o1) of the n outputs whose stride-2 window
// of 2 starting at 2·o − pad lies inside [0, size).
func insideWindows(size, pad, n int) (o0, o1 int) {
	o0 = min(n, (pad+1)/2)
	if size-2+pad < 0 {
		return o0, o0
	}
	return o0, max(o0, min(n, (size-2+pad)/2+1))
}

// poolAt is one output of 2-D max or average pooling by the definition:
// the window's taps inside the input in row-major order, the mean over
// their count (with count_include_pad, the taps inside the padded extent),
// 0 for an empty average and -Inf for an empty maximum.
func poolAt(a *poolAttrs, g *spatialGeom, xp []float32, oh, ow int) float32 {
	kh0, kh1, padH := poolTaps(oh, g.strides[0], g.padB[0], g.dilations[0], g.kernel[0], g.in[0], g.padE[0])
	kw0, kw1, padW := poolTaps(ow, g.strides[1], g.padB[1], g.dilations[1], g.kernel[1], g.in[1], g.padE[1])
	W := g.in[1]
	isMax := a.kind == poolMax
	v := float32(math.Inf(-1))
	var s float32
	for kh := kh0; kh < kh1; kh++ {
		row := xp[(oh*g.strides[0]-g.padB[0]+kh*g.dilations[0])*W:]
		for kw := kw0; kw < kw1; kw++ {
			t := row[ow*g.strides[1]-g.padB[1]+kw*g.dilations[1]]
			if isMax {
				v = max32(v, t)
			} else {
				s += t
			}
		}
	}
	if isMax {
		return v
	}
	n := (kh1 - kh0) * (kw1 - kw0)
	if a.includePad {
		n = padH * padW
	}
	if n == 0 {
		return 0
	}
	return s / float32(n)
}

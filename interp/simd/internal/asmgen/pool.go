package main

import (
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// pool2x2 emits the 2×2 stride-2 pooling kernel on zmm over rows output
// rows of n outputs: output row i at dst[i·dstStride:], reading the input
// rows src[2i·srcW:] and src[(2i+1)·srcW:] (one call for a whole tensor
// of unpadded planes of even height: a call a row cost more than the row
// on 16×16 planes). Output j reads r0[2j], r0[2j+1], r1[2j], r1[2j+1]
// (a, b, c, d), split into even and odd lanes by two permutes a row; the
// last n mod 16 outputs of a row load and store under the masks in tail
// (bits 0–15: the first 16 inputs, 16–31: the next 16, 32–47: the
// outputs). avg writes (((0 + a) + b) + c) + d times 1/4 (the scalar
// loop's order, and a product by 1/4 rounds as the division by 4); max
// writes max32(max32(max32(max32(-Inf, a), b), c), d), where max32(v, x)
// is x if x > v, else v: VMAXPS returns its second source when the first
// is not greater (NaN, equal zeros), so NaN taps are skipped and the first
// of equal taps is kept, as in the scalar loop.
func pool2x2(name string, avg bool) {
	TEXT(name, NOSPLIT, "func(dst, src []float32, n, rows, srcW, dstStride int, tail uint64)")
	Pragma("noescape")
	what := "max"
	if avg {
		what = "mean"
	}
	Doc(name+": for i < rows and j < n, dst[i·dstStride+j] = the "+what+" of r0[2j], r0[2j+1], r1[2j], r1[2j+1] (in that order),",
		"r0 = src[2i·srcW:], r1 = src[(2i+1)·srcW:]; tail holds the masks of the last n mod 16 outputs' loads (bits 0–31) and stores (32–47).")
	evenIdx := GLOBL(name+"_even", RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		DATA(4*i, U32(2*i))
	}
	oddIdx := GLOBL(name+"_odd", RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		DATA(4*i, U32(2*i+1))
	}
	dBase := Load(Param("dst").Base(), GP64())
	sBase := Load(Param("src").Base(), GP64())
	blocks := Load(Param("n"), GP64())
	SHRQ(Imm(4), blocks)
	left := Load(Param("rows"), GP64())
	sw := Load(Param("srcW"), GP64())
	SHLQ(Imm(2), sw) // bytes a row
	ds := Load(Param("dstStride"), GP64())
	SHLQ(Imm(2), ds)
	tm := Load(Param("tail"), GP64())
	KMOVQ(tm, K1) // K1: the first 16 inputs
	SHRQ(Imm(16), tm)
	KMOVQ(tm, K2) // K2: the next 16
	SHRQ(Imm(16), tm)
	KMOVQ(tm, K3) // K3: the outputs
	even, odd, init := ZMM(), ZMM(), ZMM()
	VMOVUPS(evenIdx, even)
	VMOVUPS(oddIdx, odd)
	if avg {
		VBROADCASTSS(vc(0.25), init) // the scale; the sum starts from a zeroed register
	} else {
		VBROADCASTSS(vc(float32(math.Inf(-1))), init)
	}
	d, p0, p1, cnt := GP64(), GP64(), GP64(), GP64()
	// block emits one block of 16 outputs at d from p0 and p1, under
	// the tail masks when masked.
	block := func(masked bool) {
		acc := ZMM()
		if avg {
			VPXORD(acc, acc, acc)
		} else {
			VMOVAPS(init, acc)
		}
		for _, p := range []Register{p0, p1} {
			lo, hi, e, o := ZMM(), ZMM(), ZMM(), ZMM()
			if masked {
				VMOVUPS_Z(Mem{Base: p}, K1, lo)
				VMOVUPS_Z(Mem{Base: p, Disp: 64}, K2, hi)
			} else {
				VMOVUPS(Mem{Base: p}, lo)
				VMOVUPS(Mem{Base: p, Disp: 64}, hi)
			}
			VMOVAPS(even, e)
			VPERMI2PS(hi, lo, e)
			VMOVAPS(odd, o)
			VPERMI2PS(hi, lo, o)
			for _, t := range []VecVirtual{e, o} {
				if avg {
					VADDPS(t, acc, acc) // acc + t, acc the first source as in s += t
				} else {
					VMAXPS(acc, t, acc) // t if t > acc, else acc
				}
			}
		}
		if avg {
			VMULPS(init, acc, acc)
		}
		if masked {
			VMOVUPS(acc, K3, Mem{Base: d})
		} else {
			VMOVUPS(acc, Mem{Base: d})
		}
	}
	Label(name + "_row")
	TESTQ(left, left)
	JZ(LabelRef(name + "_done"))
	MOVQ(dBase, d)
	MOVQ(sBase, p0)
	LEAQ(Mem{Base: sBase, Index: sw, Scale: 1}, p1)
	MOVQ(blocks, cnt)
	Label(name + "_loop")
	TESTQ(cnt, cnt)
	JZ(LabelRef(name + "_tail"))
	block(false)
	ADDQ(U32(128), p0)
	ADDQ(U32(128), p1)
	ADDQ(U32(64), d)
	DECQ(cnt)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_tail")
	KORTESTW(K3, K3)
	JZ(LabelRef(name + "_next"))
	block(true)
	Label(name + "_next")
	ADDQ(ds, dBase)
	LEAQ(Mem{Base: sBase, Index: sw, Scale: 2}, sBase)
	DECQ(left)
	JMP(LabelRef(name + "_row"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// maxRows512 emits the row maxima of separable max pooling on zmm: for
// i < rows and j < n,
//
//	dst[i·dstStride+j] = fold over t < taps of src[i·srcStride+t·tapStride+j]
//
// where the fold starts from the first tap (or, with acc, from dst's own
// value, folding every tap) and takes x over the value so far where x is
// greater (VMAXPS's second source otherwise: the first of equal taps is
// kept, and a NaN tap or NaN so far gives the other operand, as
// maxSkipNaN). A whole plane's rows, or a whole buffer as one row, a call:
// per-row calls cost more than the maxima on small planes. The last n mod
// 16 floats of a row load and store under a mask (masked-off lanes are not
// read).
func maxRows512() {
	name := "maxRowsAVX512"
	TEXT(name, NOSPLIT, "func(dst, src *float32, n, rows, dstStride, srcStride, taps, tapStride int, acc bool)")
	Pragma("noescape")
	Doc(name+": dst[i·dstStride+j] = the running maximum over t < taps of src[i·srcStride+t·tapStride+j] (x taken where greater than the maximum so far),",
		"from the first tap, or from dst's value when acc; strides in floats.")
	dBase := Load(Param("dst"), GP64())
	sBase := Load(Param("src"), GP64())
	n := Load(Param("n"), GP64())
	rows := Load(Param("rows"), GP64())
	ds := Load(Param("dstStride"), GP64())
	SHLQ(Imm(2), ds)
	ss := Load(Param("srcStride"), GP64())
	SHLQ(Imm(2), ss)
	taps := Load(Param("taps"), GP64())
	ts := Load(Param("tapStride"), GP64())
	SHLQ(Imm(2), ts)
	accFlag := Load(Param("acc"), GP8())
	rem := tailMask(n) // K1: the last n mod 16 lanes
	SHRQ(Imm(4), n)    // whole vectors a row
	d, s, p, cnt, t := GP64(), GP64(), GP64(), GP64(), GP64()
	a, x := ZMM(), ZMM()
	// fold loads the taps at s (t ≥ 1 when starting from the first), under
	// mask k (nil: whole vectors), into a.
	fold := func(lbl string, k Register) {
		MOVQ(s, p)
		MOVQ(taps, t)
		load := func(dst VecVirtual) {
			if k == nil {
				VMOVUPS(Mem{Base: p}, dst)
			} else {
				VMOVUPS_Z(Mem{Base: p}, k, dst)
			}
		}
		TESTB(accFlag, accFlag)
		JNZ(LabelRef(lbl + "_acc"))
		load(a)
		ADDQ(ts, p)
		DECQ(t)
		JMP(LabelRef(lbl + "_taps"))
		Label(lbl + "_acc")
		if k == nil {
			VMOVUPS(Mem{Base: d}, a)
		} else {
			VMOVUPS_Z(Mem{Base: d}, k, a)
		}
		Label(lbl + "_taps")
		TESTQ(t, t)
		JZ(LabelRef(lbl + "_store"))
		load(x)
		VMAXPS(a, x, a)
		ADDQ(ts, p)
		DECQ(t)
		JMP(LabelRef(lbl + "_taps"))
		Label(lbl + "_store")
		if k == nil {
			VMOVUPS(a, Mem{Base: d})
		} else {
			VMOVUPS(a, k, Mem{Base: d})
		}
	}
	Label(name + "_row")
	TESTQ(rows, rows)
	JZ(LabelRef(name + "_done"))
	MOVQ(dBase, d)
	MOVQ(sBase, s)
	MOVQ(n, cnt)
	Label(name + "_vec")
	TESTQ(cnt, cnt)
	JZ(LabelRef(name + "_tail"))
	fold(name+"_v", nil)
	ADDQ(Imm(64), d)
	ADDQ(Imm(64), s)
	DECQ(cnt)
	JMP(LabelRef(name + "_vec"))
	Label(name + "_tail")
	TESTQ(rem, rem)
	JZ(LabelRef(name + "_next"))
	fold(name+"_t", K1)
	Label(name + "_next")
	ADDQ(ds, dBase)
	ADDQ(ss, sBase)
	DECQ(rows)
	JMP(LabelRef(name + "_row"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

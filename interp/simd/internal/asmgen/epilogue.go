package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// scaleShiftClipRows emits the conv epilogue over a block of output rows
// on zmm: row j (ldy floats after row j-1) becomes min(max((y·s[j·sstep] +
// t[j]) + 0, lo), hi), the arithmetic of scaleShiftClipAVX (FMA, +0 turning
// -0 into +0, NaN kept), so the bits are those of one ScaleShiftClip a row.
// One call a block instead of one a row: mobilenet's 7×7 layers have rows
// of 49 floats, fp_landmark's 4×4 of 16, where a call and its ymm tail
// cost more than the row.
// With clip false it emits scaleShiftRowsAVX512, y·s + t alone (the
// bits of scaleShiftAVX a row, and of AddScalar a row when s is 1).
func scaleShiftClipRows(clip bool) {
	name := "scaleShiftRowsAVX512"
	if clip {
		name = "scaleShiftClipRowsAVX512"
		TEXT(name, NOSPLIT, "func(y *float32, ldy, rows, n int, s *float32, sstep int, t *float32, lo, hi float32)")
		Pragma("noescape")
		Doc(name+": for j < rows, y[j·ldy+i] = min(max((y[j·ldy+i]·s[j·sstep] + t[j]) + 0, lo), hi) for i < n,",
			"the product and sum fused; NaN stays NaN.")
	} else {
		TEXT(name, NOSPLIT, "func(y *float32, ldy, rows, n int, s *float32, sstep int, t *float32)")
		Pragma("noescape")
		Doc(name + ": for j < rows, y[j·ldy+i] = y[j·ldy+i]·s[j·sstep] + t[j] for i < n, fused.")
	}
	y := Load(Param("y"), GP64())
	ldy := Load(Param("ldy"), GP64())
	SHLQ(Imm(2), ldy)
	rows := Load(Param("rows"), GP64())
	n := Load(Param("n"), GP64())
	ps := Load(Param("s"), GP64())
	sstep := Load(Param("sstep"), GP64())
	SHLQ(Imm(2), sstep)
	pt := Load(Param("t"), GP64())
	lo, hi, z := ZMM(), ZMM(), ZMM()
	if clip {
		bcastParam("lo", lo)
		bcastParam("hi", hi)
		VPXORD(z, z, z)
	}
	// The last n mod 16 floats of a row go through mask K1.
	rem, full := tailMask(n), GP64()
	MOVQ(n, full)
	SHRQ(Imm(4), full)
	p, i := GP64(), GP64()
	s, t := ZMM(), ZMM()
	op := func(x VecVirtual) VecVirtual {
		VFMADD213PS(t, s, x)
		if clip {
			VADDPS(z, x, x)
			VMAXPS(x, lo, x) // x first (Intel's last) so a NaN passes through
			VMINPS(x, hi, x)
		}
		return x
	}
	Label(name + "_row")
	TESTQ(rows, rows)
	JZ(LabelRef(name + "_done"))
	VBROADCASTSS(Mem{Base: ps}, s)
	VBROADCASTSS(Mem{Base: pt}, t)
	MOVQ(y, p)
	MOVQ(full, i)
	zmmMap(name, i, rem, p, p, op)
	ADDQ(ldy, y)
	ADDQ(sstep, ps)
	ADDQ(Imm(4), pt)
	DECQ(rows)
	JMP(LabelRef(name + "_row"))
	Label(name + "_done")
	end()
}

package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// dwKernel512 is dwKernel on zmm: 16 outputs a block, and a last block of
// eight on ymm when the count of 8-blocks is odd, so that the Go side
// (which sizes planes and rows in blocks of eight) is the same at both
// levels. Per output the arithmetic is dwKernel's: nine products, summed
// ((p0+p1)+p2)+p3 and ((p4+p5)+p6)+p7, (0 + the first) + the second, + p8,
// + bias, with the same operand order, so the bits are the AVX2 kernel's.
// Stride 2 splits 32 loaded floats into even and odd lanes with one
// two-source permute per tap (the AVX2 kernel needs a shuffle and a
// permute per eight).
func dwKernel512(name string, s int, plane bool) {
	if plane {
		TEXT(name, NOSPLIT, "func(dst, src, w []float32, bias float32, rows, ow8, dstStride, pw int)")
		Doc(fmt.Sprintf("%s: dwPlane3s%dAVX's whole channel on zmm (the same bits).", name, s))
	} else {
		TEXT(name, NOSPLIT, "func(dst, r0, r1, r2, w []float32, bias float32)")
		Doc(fmt.Sprintf("%s: dwRow3s%dAVX on zmm (the same bits).", name, s))
	}
	Pragma("noescape")
	w, bias, zero, even, odd := dw3Consts512(name, s)
	rw := beginDWRows(name, s, plane)
	d, n, rows := rw.d, rw.n, rw.rows
	// block computes the outputs at input byte offset off into acc: 16
	// on zmm (wide) or eight on ymm.
	block := func(off int, wide bool) VecVirtual {
		vec := func() VecVirtual {
			if wide {
				return ZMM()
			}
			return YMM()
		}
		as := func(v VecVirtual) VecVirtual {
			if wide {
				return v
			}
			return v.AsY().(VecVirtual)
		}
		acc, sum, t := vec(), vec(), vec()
		product := func(k int, dst VecVirtual) {
			r, c := k/3, k%3
			if s == 1 {
				VMULPS(Mem{Base: rows[r], Disp: off + 4*c}, as(w[k]), dst)
				return
			}
			start := off
			if c == 2 {
				start += 8
			}
			idx := even
			if c == 1 {
				idx = odd
			}
			e := ZMM()
			if wide {
				v0 := ZMM()
				VMOVUPS(Mem{Base: rows[r], Disp: start}, v0)
				VMOVAPS(idx, e)
				VPERMI2PS(Mem{Base: rows[r], Disp: start + 64}, v0, e) // index ≥ 16: the second 16 floats
			} else {
				// Eight outputs read 16 floats: the low eight lanes of
				// the index pick them (VPERMPS takes indices mod 16).
				VPERMPS(Mem{Base: rows[r], Disp: start}, idx, e)
			}
			VMULPS(as(e), as(w[k]), dst)
		}
		for g := 0; g < 2; g++ {
			product(4*g, sum)
			for k := 4*g + 1; k < 4*g+4; k++ {
				product(k, t)
				VADDPS(t, sum, sum)
			}
			if g == 0 {
				VADDPS(as(zero), sum, acc)
			} else {
				VADDPS(acc, sum, acc)
			}
		}
		product(8, t)
		VADDPS(acc, t, acc)
		VADDPS(as(bias), acc, acc)
		return acc
	}
	Label(name + "_loop16")
	CMPQ(n, Imm(2))
	JB(LabelRef(name + "_tail"))
	acc := block(0, true)
	VMOVUPS(acc, Mem{Base: d})
	ADDQ(U32(64), d)
	for _, p := range rows {
		ADDQ(U32(64*s), p)
	}
	SUBQ(Imm(2), n)
	JMP(LabelRef(name + "_loop16"))
	Label(name + "_tail")
	TESTQ(n, n)
	JZ(LabelRef(name + "_rowdone"))
	acc8 := block(0, false)
	VMOVUPS(acc8, Mem{Base: d})
	Label(name + "_rowdone")
	rw.nextRow()
	end()
}

// dw3Consts512 loads what the zmm 3×3 depthwise kernels keep in registers:
// the nine filter taps and the bias broadcast, +0, and at stride 2 the
// even and odd lane indices (name's data).
func dw3Consts512(name string, s int) (w []VecVirtual, bias, zero, even, odd VecVirtual) {
	pwp := Load(Param("w").Base(), GP64())
	w = make([]VecVirtual, 9)
	for i := range w {
		w[i] = ZMM()
		VBROADCASTSS(Mem{Base: pwp, Disp: 4 * i}, w[i])
	}
	bias = ZMM()
	bcastParam("bias", bias)
	zero = ZMM()
	VPXORD(zero, zero, zero)
	if s == 2 {
		ev := GLOBL(name+"_even", RODATA|NOPTR)
		for i := 0; i < 16; i++ {
			DATA(4*i, U32(2*i))
		}
		od := GLOBL(name+"_odd", RODATA|NOPTR)
		for i := 0; i < 16; i++ {
			DATA(4*i, U32(2*i+1))
		}
		even, odd = ZMM(), ZMM()
		VMOVUPS(ev, even)
		VMOVUPS(od, odd)
	}
	return
}

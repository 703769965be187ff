package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// transposeTiles emits dst[j·ld + i] = src[i·ls + j] for i < rows, j < cols,
// both multiples of 8: 8×8 tiles, each eight row loads, transpose8's
// 24 shuffles and eight row stores; a row band of src at a time, its tiles left to right.
func transposeTiles() {
	TEXT("transpose8AVX", NOSPLIT, "func(dst []float32, ld int, src []float32, ls int, rows, cols int)")
	Pragma("noescape")
	Doc("transpose8AVX: dst[j·ld + i] = src[i·ls + j] for i < rows, j < cols, both multiples of 8; 4-byte words moved bit for bit.")
	d0 := Load(Param("dst").Base(), GP64())
	s0 := Load(Param("src").Base(), GP64())
	ld := Load(Param("ld"), GP64())
	ls := Load(Param("ls"), GP64())
	rows := Load(Param("rows"), GP64())
	cols := Load(Param("cols"), GP64())
	SHLQ(Imm(2), ld) // strides in bytes
	SHLQ(Imm(2), ls)
	var ld3, ls3 Register = GP64(), GP64()
	LEAQ(Mem{Base: ld, Index: ld, Scale: 2}, ld3)
	LEAQ(Mem{Base: ls, Index: ls, Scale: 2}, ls3)
	SHRQ(Imm(3), rows)
	SHRQ(Imm(3), cols)
	s, s4, d, d4, n := GP64(), GP64(), GP64(), GP64(), GP64()
	Label("tr_band")
	TESTQ(rows, rows)
	JZ(LabelRef("tr_done"))
	MOVQ(s0, s)
	LEAQ(Mem{Base: s0, Index: ls, Scale: 4}, s4)
	MOVQ(d0, d)
	LEAQ(Mem{Base: d0, Index: ld, Scale: 4}, d4)
	MOVQ(cols, n)
	Label("tr_tile")
	TESTQ(n, n)
	JZ(LabelRef("tr_next"))
	// row r of the tile at (r < 4 ? s : s4) + (r mod 4)·ls.
	at := func(base GPVirtual, stride, stride3 Register, r int) Mem {
		b := base
		switch r % 4 {
		case 0:
			return Mem{Base: b}
		case 1:
			return Mem{Base: b, Index: stride, Scale: 1}
		case 2:
			return Mem{Base: b, Index: stride, Scale: 2}
		}
		return Mem{Base: b, Index: stride3, Scale: 1}
	}
	for i := range 8 {
		b := s
		if i >= 4 {
			b = s4
		}
		VMOVUPS(at(b, ls, ls3, i), Y(i))
	}
	transpose8()
	for j := range 8 {
		b := d
		if j >= 4 {
			b = d4
		}
		VMOVUPS(Y(8+j), at(b, ld, ld3, j))
	}
	ADDQ(Imm(32), s)
	ADDQ(Imm(32), s4)
	LEAQ(Mem{Base: d, Index: ld, Scale: 8}, d)
	LEAQ(Mem{Base: d4, Index: ld, Scale: 8}, d4)
	DECQ(n)
	JMP(LabelRef("tr_tile"))
	Label("tr_next")
	LEAQ(Mem{Base: s0, Index: ls, Scale: 8}, s0)
	ADDQ(Imm(32), d0)
	DECQ(rows)
	JMP(LabelRef("tr_band"))
	Label("tr_done")
	end()
}

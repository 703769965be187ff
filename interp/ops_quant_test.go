package interp

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

// TestQuantizeFast checks QuantizeLinear's and DequantizeLinear's direct
// float32 paths against the spec's arithmetic, element by element: per
// tensor and per axis, uint8 and int8, with and without zero points, with
// ties (round half to even), saturation and infinities.
func TestQuantizeFast(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	shape := []int{2, 3, 5}
	n := 30
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64() * 40)
	}
	x[0], x[1], x[2], x[3] = 2.5, -2.5, 3.5, float32(math.Inf(1)) // ties at scale 1 below, +Inf saturates
	for _, perAxis := range []bool{false, true} {
		for _, dt := range []onnx.DataType{onnx.Uint8, onnx.Int8} {
			for _, withZP := range []bool{false, true} {
				sshape := []int{}
				scales := []float32{1}
				zps := []float64{0}
				if perAxis {
					sshape, scales, zps = []int{3}, []float32{1, 0.37, 5.1}, []float64{0, 0, 0}
				}
				if withZP {
					for i := range zps {
						zps[i] = float64(3 + 7*i)
					}
				}
				var in []*Tensor
				in = append(in, FromSlice(onnx.Float, shape, x), FromSlice(onnx.Float, sshape, scales))
				if withZP {
					z := Make(dt, sshape...)
					for i, v := range zps {
						switch d := z.Data.(type) {
						case []uint8:
							d[i] = uint8(v)
						case []int8:
							d[i] = int8(v)
						}
					}
					in = append(in, z)
				}
				attrs := []*onnx.Attribute{onnx.IntAttr("axis", 1)}
				if !withZP {
					attrs = append(attrs, onnx.IntAttr("output_dtype", int64(dt)))
				}
				out, err := evalOp("QuantizeLinear", "", 21, attrs, 1, in...)
				if err != nil {
					t.Fatal(err)
				}
				lo, hi, _ := quantRange(dt)
				param := func(i int) int {
					if perAxis {
						return (i / 5) % 3
					}
					return 0
				}
				q := make([]float64, n)
				for i, v := range x {
					p := param(i)
					want := min(max(math.RoundToEven(float64(v/scales[p]))+zps[p], lo), hi)
					got, _ := numbersAsFloat64(out[0])
					if got[i] != want {
						t.Fatalf("perAxis=%v %s zp=%v: q[%d] = %v, want %v (x %v)", perAxis, dt, withZP, i, got[i], want, v)
					}
					q[i] = want
				}
				// And back.
				din := []*Tensor{out[0], in[1]}
				if withZP {
					din = append(din, in[2])
				}
				back, err := evalOp("DequantizeLinear", "", 21, []*onnx.Attribute{onnx.IntAttr("axis", 1)}, 1, din...)
				if err != nil {
					t.Fatal(err)
				}
				for i, v := range back[0].Floats() {
					p := param(i)
					if want := (float32(q[i]) - float32(zps[p])) * scales[p]; math.Float32bits(v) != math.Float32bits(want) {
						t.Fatalf("perAxis=%v %s zp=%v: dequantized[%d] = %v, want %v", perAxis, dt, withZP, i, v, want)
					}
				}
			}
		}
	}
	// int32 (a bias) dequantizes through the same path.
	b := FromSlice(onnx.Int32, []int{3}, []int32{-7, 1 << 30, 123456789})
	out, err := evalOp("DequantizeLinear", "", 13, []*onnx.Attribute{onnx.IntAttr("axis", 0)}, 1, b, FromSlice(onnx.Float, []int{3}, []float32{0.5, 1e-3, 3}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := out[0].Floats(), []float32{-3.5, float32(1<<30) * 1e-3, float32(123456789) * 3}; got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("int32 dequantized %v, want %v", got, want)
	}
}

// TestDequantizeBlocked checks blocked and per-axis DequantizeLinear
// (opset 21) against the spec's (x − z)·s element by element, bit for bit:
// every axis, blocks that do and do not divide the axis, 8-bit and 4-bit
// data, with and without zero points, NaN and infinite scales.
func TestDequantizeBlocked(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	shape := []int{2, 7, 5}
	for _, dt := range []onnx.DataType{onnx.Int8, onnx.Uint8, onnx.Int4, onnx.Uint4} {
		lo, hi, _ := quantRange(dt)
		for axis := range shape {
			for _, block := range []int{0, 1, 2, 3, 8} { // 0: per axis
				for _, withZP := range []bool{false, true} {
					sshape := append([]int(nil), shape...)
					if block == 0 {
						sshape = []int{shape[axis]}
					} else {
						sshape[axis] = (shape[axis] + block - 1) / block
					}
					x, z := Make(dt, shape...), Make(dt, sshape...)
					fill := func(t *Tensor) {
						for i := range t.Len() {
							v := lo + float64(r.IntN(int(hi-lo)+1))
							switch d := t.Data.(type) {
							case []int8:
								d[i] = int8(v)
							case []uint8:
								d[i] = uint8(v)
							}
						}
					}
					fill(x)
					fill(z)
					s := Make(onnx.Float, sshape...)
					for i := range s.Floats() {
						s.Floats()[i] = float32(r.ExpFloat64() / 100)
					}
					s.Floats()[0], s.Floats()[s.Len()-1] = float32(math.NaN()), float32(math.Inf(-1))
					in := []*Tensor{x, s}
					if withZP {
						in = append(in, z)
					}
					attrs := []*onnx.Attribute{onnx.IntAttr("axis", int64(axis)), onnx.IntAttr("block_size", int64(block))}
					out, err := evalOp("DequantizeLinear", "", 21, attrs, 1, in...)
					if err != nil {
						t.Fatal(err)
					}
					xv, _ := numbersAsFloat64(x)
					zv, _ := numbersAsFloat64(z)
					inner := numElements(shape[axis+1:])
					for i, got := range out[0].Floats() {
						o, k, j := i/(shape[axis]*inner), i/inner%shape[axis], i%inner
						p := k
						if block > 0 {
							p = (o*sshape[axis]+k/block)*inner + j
						}
						zp := float32(0)
						if withZP {
							zp = float32(zv[p])
						}
						want := (float32(xv[i]) - zp) * s.Floats()[p]
						if math.Float32bits(got) != math.Float32bits(want) {
							t.Fatalf("%s axis %d block %d zp %v: y[%d] = %v, want %v", dt, axis, block, withZP, i, got, want)
						}
					}
				}
			}
		}
	}
}

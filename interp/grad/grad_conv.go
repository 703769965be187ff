package grad

import (
	"fmt"
	"math"
	"runtime"

	"github.com/onnxslim/onnxslim/interp/simd"
)

// Sliding-window ops over any number of spatial dims: Conv (strides, pads,
// auto_pad, dilations, groups), ConvTranspose (explicit pads) and
// MaxPool/AveragePool/GlobalAveragePool/GlobalMaxPool.

func init() {
	register(gradConv, "Conv")
	register(gradConvTranspose, "ConvTranspose")
	register(gradPool(false), "MaxPool")
	register(gradPool(true), "AveragePool")
	register(gradGlobalPool(false), "GlobalMaxPool")
	register(gradGlobalPool(true), "GlobalAveragePool")
}

// window is the resolved geometry of a sliding window; the output size comes
// from the forward result, so ceil_mode needs no recomputation.
type window struct {
	in, out, kernel, strides, dilations, padB, padE []int
}

// newWindow resolves strides, dilations and pads (explicit or auto_pad, as
// the interpreter does) for spatial input in and output out.
func newWindow(c *call, in, out, kernel []int) (*window, error) {
	nd := len(in)
	if len(out) != nd || len(kernel) != nd {
		return nil, fmt.Errorf("window ranks differ: input %v, output %v, kernel %v", in, out, kernel)
	}
	w := &window{in: in, out: out, kernel: kernel, strides: ones(nd), dilations: ones(nd), padB: make([]int, nd), padE: make([]int, nd)}
	for _, p := range []struct {
		name string
		dst  []int
	}{{"strides", w.strides}, {"dilations", w.dilations}} {
		if v := c.n.AttrInts(p.name, nil); v != nil {
			if len(v) != nd {
				return nil, fmt.Errorf("%s %v for %d spatial dims", p.name, v, nd)
			}
			for i, x := range v {
				p.dst[i] = int(x)
			}
		}
	}
	switch ap := c.n.AttrString("auto_pad", "NOTSET"); ap {
	case "NOTSET", "":
		if v := c.n.AttrInts("pads", nil); v != nil {
			if len(v) != 2*nd {
				return nil, fmt.Errorf("pads %v for %d spatial dims", v, nd)
			}
			for i := range nd {
				w.padB[i], w.padE[i] = int(v[i]), int(v[i+nd])
			}
		}
	case "VALID":
	case "SAME_UPPER", "SAME_LOWER":
		for i := range nd {
			o := (in[i] + w.strides[i] - 1) / w.strides[i]
			ext := (kernel[i]-1)*w.dilations[i] + 1
			total := max(0, (o-1)*w.strides[i]+ext-in[i])
			if ap == "SAME_UPPER" {
				w.padB[i] = total / 2
			} else {
				w.padB[i] = total - total/2
			}
			w.padE[i] = total - w.padB[i]
		}
	default:
		return nil, fmt.Errorf("auto_pad %q", ap)
	}
	return w, nil
}

func ones(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = 1
	}
	return s
}

// tap is one kernel position inside the input: kernel offset, input offset.
type tap struct{ k, off int }

// taps lists, for output position o (flat), the kernel positions that fall
// inside the input, and how many fall inside the padded input.
func (w *window) taps(o int, buf []tap) ([]tap, int) {
	nd := len(w.in)
	oidx := make([]int, nd)
	for d := nd - 1; d >= 0; d-- {
		oidx[d] = o % w.out[d]
		o /= w.out[d]
	}
	kvol := numel(w.kernel)
	buf = buf[:0]
	padCount := 0
	kidx := make([]int, nd)
	for kk := 0; kk < kvol; kk++ {
		r := kk
		for d := nd - 1; d >= 0; d-- {
			kidx[d] = r % w.kernel[d]
			r /= w.kernel[d]
		}
		in, inPad := true, true
		off := 0
		for d := 0; d < nd; d++ {
			p := oidx[d]*w.strides[d] - w.padB[d] + kidx[d]*w.dilations[d]
			if p < 0 || p >= w.in[d] {
				in = false
			}
			if p < -w.padB[d] || p >= w.in[d]+w.padE[d] {
				inPad = false
			}
			off = off*w.in[d] + p
		}
		if inPad {
			padCount++
		}
		if in {
			buf = append(buf, tap{kk, off})
		}
	}
	return buf, padCount
}

// table is im2col's index: tab[k·osz + o] is the input offset kernel
// position k reads for output o, or −1 in the padding.
func (w *window) table(osz, kvol int) []int32 {
	tab := make([]int32, kvol*osz)
	var buf []tap
	for o := 0; o < osz; o++ {
		for k := 0; k < kvol; k++ {
			tab[k*osz+o] = -1
		}
		ts, _ := w.taps(o, buf)
		buf = ts
		for _, t := range ts {
			tab[t.k*osz+o] = int32(t.off)
		}
	}
	return tab
}

// convResult assembles a convolution's gradients: dX, dW (summed in
// float32 by the GEMM, returned as float64) and, when asked, the bias's:
// dY summed over the batch and the sz positions of each of the M channels.
func convResult(c *call, dx, dw []float64, dw32 []float32, N, M, sz int) [][]float64 {
	for i, v := range dw32 {
		dw[i] = float64(v)
	}
	res := [][]float64{dx, dw, nil}
	if c.wants(2) {
		db := make([]float64, M)
		for n := 0; n < N; n++ {
			for m := 0; m < M; m++ {
				var s float64
				for _, g := range c.dy[0][(n*M+m)*sz : (n*M+m+1)*sz] {
					s += g
				}
				db[m] += s
			}
		}
		res[2] = db
	}
	return res
}

// convOperands reads a convolution's input and weight and checks that
// they and the output have one rank, with at least one spatial dim.
func convOperands(c *call) (x, wt []float32, xs, ws, ys []int, err error) {
	if x, err = c.f(0); err != nil {
		return
	}
	if wt, err = c.f(1); err != nil {
		return
	}
	xs, ws, ys = c.in[0].Shape, c.in[1].Shape, c.out[0].Shape
	if len(xs) < 3 || len(ws) != len(xs) || len(ys) != len(xs) {
		err = fmt.Errorf("%s shapes X %v, W %v, Y %v", c.n.OpType, xs, ws, ys)
	}
	return
}

func gradConv(c *call) ([][]float64, error) {
	x, wt, xs, ws, ys, err := convOperands(c)
	if err != nil {
		return nil, err
	}
	N, C, M := xs[0], xs[1], ws[0]
	G := int(c.n.AttrInt("group", 1))
	if G <= 0 || C%G != 0 || M%G != 0 || ws[1] != C/G {
		return nil, fmt.Errorf("Conv group %d with X %v and W %v", G, xs, ws)
	}
	w, err := newWindow(c, xs[2:], ys[2:], ws[2:])
	if err != nil {
		return nil, err
	}
	Cg, Mg := C/G, M/G
	isz, osz, kvol := numel(xs[2:]), numel(ys[2:]), numel(ws[2:])
	var dx, dw []float64
	if c.wants(0) {
		dx = make([]float64, len(x))
	}
	if c.wants(1) {
		dw = make([]float64, len(wt))
	}
	tab := w.table(osz, kvol)
	// Per sample and group, with col the [Cg·kvol, osz] im2col matrix:
	// dW_g += dY_g·colᵀ and dcol = W_gᵀ·dY_g, scattered back into dX. The
	// products run in the interpreter's float32 SIMD GEMM (simd.Sgemm), which
	// also sums dW over the batch; dX's sums over taps are float64.
	rows := Cg * kvol
	col := make([]float32, rows*osz)
	dcol := make([]float32, rows*osz)
	dy32 := make([]float32, M*osz)
	var dw32 []float32 // dW in float32, summed over the batch by the GEMM
	if dw != nil {
		dw32 = make([]float32, len(wt))
	}
	threads := runtime.GOMAXPROCS(0)
	for n := 0; n < N; n++ {
		for i, g := range c.dy[0][n*M*osz : (n+1)*M*osz] {
			dy32[i] = float32(g)
		}
		for grp := 0; grp < G; grp++ {
			xb := (n*C + grp*Cg) * isz
			dyg := dy32[grp*Mg*osz : (grp+1)*Mg*osz]
			if dw != nil {
				for r := 0; r < rows; r++ {
					ic, k := r/kvol, r%kvol
					row, xo, tr := col[r*osz:(r+1)*osz], xb+ic*isz, tab[k*osz:(k+1)*osz]
					for o, off := range tr {
						if off < 0 {
							row[o] = 0
						} else {
							row[o] = x[xo+int(off)]
						}
					}
				}
				// dW_g [Mg, rows] = dY_g [Mg, osz] · colᵀ
				beta := float32(1)
				if n == 0 {
					beta = 0
				}
				simd.Sgemm(false, true, Mg, rows, osz, 1, dyg, osz, col, osz, beta, dw32[grp*Mg*rows:(grp+1)*Mg*rows], rows, threads)
			}
			if dx != nil {
				// dcol [rows, osz] = W_gᵀ · dY_g
				simd.Sgemm(true, false, rows, osz, Mg, 1, wt[grp*Mg*rows:(grp+1)*Mg*rows], rows, dyg, osz, 0, dcol, osz, threads)
				for r := 0; r < rows; r++ {
					ic, k := r/kvol, r%kvol
					row, xo, tr := dcol[r*osz:(r+1)*osz], xb+ic*isz, tab[k*osz:(k+1)*osz]
					for o, off := range tr {
						if off >= 0 {
							dx[xo+int(off)] += float64(row[o])
						}
					}
				}
			}
		}
	}
	return convResult(c, dx, dw, dw32, N, M, osz), nil
}

// gradConvTranspose: ConvTranspose is the adjoint of a Conv from its
// output's space (Y) to its input's (X) with the same weights, strides,
// pads, dilations and groups, its weight [C, M/G, k…] read as that Conv's
// [C outputs, M/G inputs, k…]. So dX = Conv(dY, W), and dW = X·colᵀ(dY),
// the Conv's weight gradient with dY as its input and X as its output's
// gradient. output_padding only widens Y where no tap reads.
func gradConvTranspose(c *call) ([][]float64, error) {
	x, wt, xs, ws, ys, err := convOperands(c)
	if err != nil {
		return nil, err
	}
	if ap := c.n.AttrString("auto_pad", "NOTSET"); ap != "NOTSET" && ap != "" {
		return nil, fmt.Errorf("ConvTranspose auto_pad=%s is not differentiated (explicit pads only)", ap)
	}
	if c.n.AttrInts("output_shape", nil) != nil {
		return nil, fmt.Errorf("ConvTranspose output_shape is not differentiated (explicit pads only)")
	}
	N, C, M := xs[0], xs[1], ys[1]
	G := int(c.n.AttrInt("group", 1))
	if G <= 0 || C%G != 0 || M%G != 0 || ws[0] != C || ws[1] != M/G {
		return nil, fmt.Errorf("ConvTranspose group %d with X %v, W %v and Y %v", G, xs, ws, ys)
	}
	w, err := newWindow(c, ys[2:], xs[2:], ws[2:]) // the adjoint Conv reads Y and writes X
	if err != nil {
		return nil, err
	}
	Cg, Mg := C/G, M/G // the adjoint Conv's outputs and inputs per group
	ysz, xsz, kvol := numel(ys[2:]), numel(xs[2:]), numel(ws[2:])
	tab := w.table(xsz, kvol)
	var dx, dw []float64
	if c.wants(0) {
		dx = make([]float64, len(x))
	}
	var dw32 []float32
	if c.wants(1) {
		dw = make([]float64, len(wt))
		dw32 = make([]float32, len(wt))
	}
	rows := Mg * kvol
	col := make([]float32, rows*xsz)
	dxg := make([]float32, Cg*xsz)
	dy32 := make([]float32, M*ysz)
	threads := runtime.GOMAXPROCS(0)
	for n := 0; n < N; n++ {
		for i, g := range c.dy[0][n*M*ysz : (n+1)*M*ysz] {
			dy32[i] = float32(g)
		}
		for grp := 0; grp < G; grp++ {
			// col [rows, X positions]: dY's taps for each X position.
			for r := 0; r < rows; r++ {
				m, k := r/kvol, r%kvol
				row, plane, tr := col[r*xsz:(r+1)*xsz], dy32[(grp*Mg+m)*ysz:(grp*Mg+m+1)*ysz], tab[k*xsz:(k+1)*xsz]
				for o, off := range tr {
					if off < 0 {
						row[o] = 0
					} else {
						row[o] = plane[off]
					}
				}
			}
			wg := wt[grp*Cg*rows : (grp+1)*Cg*rows]
			if dx != nil {
				// dX_g [Cg, X] = W_g [Cg, rows] · col
				simd.Sgemm(false, false, Cg, xsz, rows, 1, wg, rows, col, xsz, 0, dxg, xsz, threads)
				base := (n*C + grp*Cg) * xsz
				for i, v := range dxg {
					dx[base+i] += float64(v)
				}
			}
			if dw != nil {
				// dW_g [Cg, rows] += X_g [Cg, X] · colᵀ
				beta := float32(1)
				if n == 0 {
					beta = 0
				}
				xg := x[(n*C+grp*Cg)*xsz : (n*C+(grp+1)*Cg)*xsz]
				simd.Sgemm(false, true, Cg, rows, xsz, 1, xg, xsz, col, xsz, beta, dw32[grp*Cg*rows:(grp+1)*Cg*rows], rows, threads)
			}
		}
	}
	return convResult(c, dx, dw, dw32, N, M, ysz), nil
}

// gradPool routes each output's gradient to its window's first maximum
// (MaxPool, as the forward picks it) or spreads it over the window divided
// by the forward's divisor (AveragePool, count_include_pad).
func gradPool(avg bool) rule {
	return func(c *call) ([][]float64, error) {
		x, err := c.f(0)
		if err != nil {
			return nil, err
		}
		xs, ys := c.in[0].Shape, c.out[0].Shape
		if len(xs) < 3 || len(ys) != len(xs) {
			return nil, fmt.Errorf("pool shapes X %v, Y %v", xs, ys)
		}
		k := c.n.AttrInts("kernel_shape", nil)
		if len(k) != len(xs)-2 {
			return nil, fmt.Errorf("kernel_shape %v for input %v", k, xs)
		}
		kernel := make([]int, len(k))
		for i, v := range k {
			kernel[i] = int(v)
		}
		w, err := newWindow(c, xs[2:], ys[2:], kernel)
		if err != nil {
			return nil, err
		}
		includePad := c.n.AttrInt("count_include_pad", 0) != 0
		planes, isz, osz := xs[0]*xs[1], numel(xs[2:]), numel(ys[2:])
		dx := make([]float64, len(x))
		dy := c.dy[0]
		if dy == nil {
			return [][]float64{dx}, nil
		}
		var buf []tap
		for o := 0; o < osz; o++ {
			ts, padCount := w.taps(o, buf)
			buf = ts
			for pl := 0; pl < planes; pl++ {
				g := dy[pl*osz+o]
				xp := x[pl*isz : (pl+1)*isz]
				dp := dx[pl*isz : (pl+1)*isz]
				if avg {
					n := len(ts)
					if includePad {
						n = padCount
					}
					if n == 0 {
						continue
					}
					for _, t := range ts {
						dp[t.off] += g / float64(n)
					}
					continue
				}
				v := float32(math.Inf(-1))
				best := -1
				for _, t := range ts {
					if xv := xp[t.off]; xv > v || best < 0 && xv == v {
						v, best = xv, t.off
					}
				}
				if best >= 0 {
					dp[best] += g
				}
			}
		}
		return [][]float64{dx}, nil
	}
}

func gradGlobalPool(avg bool) rule {
	return func(c *call) ([][]float64, error) {
		x, err := c.f(0)
		if err != nil {
			return nil, err
		}
		xs := c.in[0].Shape
		if len(xs) < 2 {
			return nil, fmt.Errorf("global pool of shape %v", xs)
		}
		planes, isz := xs[0]*xs[1], numel(xs[2:])
		dx := make([]float64, len(x))
		for pl := 0; pl < planes; pl++ {
			g := c.dy[0][pl]
			if avg {
				for i := pl * isz; i < (pl+1)*isz; i++ {
					dx[i] = g / float64(isz)
				}
				continue
			}
			best, v := -1, float32(math.Inf(-1))
			for i, xv := range x[pl*isz : (pl+1)*isz] {
				if xv > v || best < 0 && xv == v {
					v, best = xv, i
				}
			}
			if best >= 0 {
				dx[pl*isz+best] = g
			}
		}
		return [][]float64{dx}, nil
	}
}

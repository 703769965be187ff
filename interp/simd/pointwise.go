package simd

import "fmt"

// pointwiseChunkFloats is the input and output floats a chunk of
// ConvPointwise aims for: the gathered columns and their outputs stay in
// L2 while the GEMM and the epilogue read them (the 1×1 chunked product's
// 96 KiB in floats, interp's conv2D).
const pointwiseChunkFloats = 96 << 10

// ConvPointwise computes one group of a 1×1 convolution that is not a plain
// product of the filters and the input planes, that is with strides or
// padding (ResNet's stride-2 shortcuts): y (M×N, N = p.N()) = filters ·
// X', where column q of X' is input position (oh·StrideH − PadT, ow·StrideW
// − PadL) of output q = oh·OutW + ow, zero in the padding. The filters are
// packed by PackA(false, M, p.C, 1, w, p.C). In chunks of output columns,
// each gathers its columns of X' into a small row-major block that the GEMM
// reads in place, instead of laying the whole input out as im2col's phase
// planes (four times the columns read at stride 2). The same K blocks
// (ConvKBlock(N, C)) and FMA chains as ConvPacked, so the same bits. done
// is called as ConvPacked calls it (nil: none).
func ConvPointwise(y []float32, pa *PackedA, x []float32, p ConvParams, threads int, done func(r0, r1, q0, q1 int)) {
	p.check("ConvPointwise")
	if p.KH != 1 || p.KW != 1 {
		panic(fmt.Sprintf("simd: ConvPointwise: kernel %d×%d, want 1×1", p.KH, p.KW))
	}
	K, N := p.C, p.N()
	if pa.k != K {
		panic(fmt.Sprintf("simd: ConvPointwise: filters have depth %d, the convolution %d", pa.k, K))
	}
	M := pa.m
	if M == 0 || N == 0 {
		return
	}
	need("ConvPointwise", p.C*p.H*p.W, x)
	need("ConvPointwise", M*N, y)
	if K == 0 {
		clear(y[:M*N])
		if done != nil {
			done(0, M, 0, N)
		}
		return
	}
	kc := ConvKBlock(N, K)
	nc := max(4*nr, pointwiseChunkFloats/(M+K)/nr*nr)
	chunks := (N + nc - 1) / nc
	gemmThreads, chunkThreads := 1, threads
	if threads < 2 || M*N*K <= parallelMin {
		chunkThreads = 1
	} else if chunks < threads {
		gemmThreads, chunkThreads = threads, 1 // split each chunk's product instead
	}
	work := func(th, c0, c1 int) {
		s := shareWorkspace(th)
		defer s.release()
		w := s.ws
		// Rows of the block a multiple of 4 KiB apart would make the
		// GEMM pack it (their steps share L1 sets): pad them.
		ldb := min(nc, N)
		if ldb%1024 == 0 {
			ldb += nr
		}
		xb := aligned(&w.a, K*ldb)
		for ch := c0; ch < c1; ch++ {
			q0, q1 := ch*nc, min(N, (ch+1)*nc)
			gatherPointwise(xb, ldb, x, &p, q0, q1)
			SgemmPackedAEach(pa, false, q1-q0, xb, ldb, nil, 0, y[q0:], N, kc, gemmThreads, func(r0, r1, j0, j1 int) {
				if done != nil {
					done(r0, r1, q0+j0, q0+j1)
				}
			})
		}
	}
	if chunkThreads < 2 {
		work(0, 0, chunks)
		return
	}
	ParallelRunsThreads(chunks, chunkThreads, work)
}

// gatherPointwise writes columns [q0, q1) of ConvPointwise's X' (p.C rows)
// to dst, row c at dst[c·ldd:]: a row segment at a time, the sampled
// columns by a copy (stride 1), Evens (stride 2) or a loop, the padding as
// zeros.
func gatherPointwise(dst []float32, ldd int, x []float32, p *ConvParams, q0, q1 int) {
	sh, sw := p.StrideH, p.StrideW
	// Output columns [lo, hi) read inside the input row.
	lo := min(p.OutW, (p.PadL+sw-1)/sw)
	hi := max(lo, min(p.OutW, (p.W-1+p.PadL)/sw+1))
	isz := p.H * p.W
	for c := 0; c < p.C; c++ {
		xc := x[c*isz : (c+1)*isz]
		d := dst[c*ldd : c*ldd+q1-q0]
		for q := q0; q < q1; {
			oh, ow := q/p.OutW, q%p.OutW
			n := min(q1-q, p.OutW-ow)
			seg := d[q-q0 : q-q0+n]
			q += n
			ih := oh*sh - p.PadT
			if ih < 0 || ih >= p.H {
				clear(seg)
				continue
			}
			row := xc[ih*p.W : (ih+1)*p.W]
			// seg holds output columns [ow, ow+n).
			a, b := min(max(lo, ow), ow+n), max(min(hi, ow+n), ow)
			b = max(a, b)
			clear(seg[:a-ow])
			clear(seg[b-ow:])
			in := seg[a-ow : b-ow]
			if len(in) == 0 {
				continue
			}
			src := row[a*sw-p.PadL:]
			switch sw {
			case 1:
				copy(in, src)
			case 2:
				Evens(in, src)
			default:
				for i := range in {
					in[i] = src[i*sw]
				}
			}
		}
	}
}

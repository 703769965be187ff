package interp

import (
	"errors"
	"fmt"
)

// A baseline JPEG decoder that reproduces libjpeg(-turbo)'s default output
// bit for bit: the "islow" integer IDCT, "fancy" (triangular) chroma
// upsampling and fixed-point YCbCr→RGB. ONNX's ImageDecoder reference decodes
// with PIL, which uses libjpeg; Go's image/jpeg uses another IDCT and
// replicates chroma, so its pixels differ. Progressive and other JPEGs this
// decoder does not handle fall back to image/jpeg (errJPEGFallback).

var errJPEGFallback = errors.New("jpeg: not a baseline image")

type jpegComp struct {
	id, h, v, tq int
	td, ta       int
	bw, bh       int     // size in blocks, padded to whole MCUs
	pix          []uint8 // bw*8 × bh*8 samples
	pred         int
}

type jpegHuff struct {
	lookup map[uint32]uint8 // (length << 16 | code) → symbol
	maxLen int
}

type jpegDecoder struct {
	data       []byte
	pos        int
	q          [4][64]int
	dc, ac     [4]*jpegHuff
	comps      []*jpegComp
	w, h       int
	hmax, vmax int
	restart    int
	maxBytes   int64 // memory limit for the planes and the output
	bits       uint32
	nbits      int
}

var jpegZigzag = [64]int{
	0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
}

// decodeJPEGLibjpeg decodes a baseline JPEG to interleaved RGB (or gray
// replicated to RGB), returning width and height.
func decodeJPEGLibjpeg(data []byte, maxBytes int64) ([]uint8, int, int, error) {
	d := &jpegDecoder{data: data, maxBytes: maxBytes}
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return nil, 0, 0, errJPEGFallback
	}
	d.pos = 2
	for {
		m, err := d.marker()
		if err != nil {
			return nil, 0, 0, err
		}
		switch {
		case m == 0xD9:
			return nil, 0, 0, errors.New("jpeg: no image data")
		case m == 0xC0 || m == 0xC1:
			if err := d.frame(); err != nil {
				return nil, 0, 0, err
			}
		case m >= 0xC2 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC:
			return nil, 0, 0, errJPEGFallback // progressive, lossless or arithmetic
		case m == 0xC4:
			if err := d.huffman(); err != nil {
				return nil, 0, 0, err
			}
		case m == 0xDB:
			if err := d.quant(); err != nil {
				return nil, 0, 0, err
			}
		case m == 0xDD:
			seg, err := d.segment()
			if err != nil || len(seg) < 2 {
				return nil, 0, 0, errors.New("jpeg: bad DRI")
			}
			d.restart = int(seg[0])<<8 | int(seg[1])
		case m == 0xDA:
			if err := d.scan(); err != nil {
				return nil, 0, 0, err
			}
			rgb, err := d.output()
			return rgb, d.w, d.h, err
		default:
			if _, err := d.segment(); err != nil {
				return nil, 0, 0, err
			}
		}
	}
}

func (d *jpegDecoder) marker() (byte, error) {
	for d.pos < len(d.data) && d.data[d.pos] != 0xFF {
		d.pos++
	}
	for d.pos < len(d.data) && d.data[d.pos] == 0xFF {
		d.pos++
	}
	if d.pos >= len(d.data) {
		return 0, errors.New("jpeg: unexpected end of data")
	}
	m := d.data[d.pos]
	d.pos++
	return m, nil
}

func (d *jpegDecoder) segment() ([]byte, error) {
	if d.pos+2 > len(d.data) {
		return nil, errors.New("jpeg: truncated segment")
	}
	n := int(d.data[d.pos])<<8 | int(d.data[d.pos+1])
	if n < 2 || d.pos+n > len(d.data) {
		return nil, errors.New("jpeg: bad segment length")
	}
	seg := d.data[d.pos+2 : d.pos+n]
	d.pos += n
	return seg, nil
}

func (d *jpegDecoder) frame() error {
	s, err := d.segment()
	if err != nil || len(s) < 6 {
		return errors.New("jpeg: bad SOF")
	}
	if s[0] != 8 {
		return errJPEGFallback // 12-bit samples
	}
	d.h, d.w = int(s[1])<<8|int(s[2]), int(s[3])<<8|int(s[4])
	n := int(s[5])
	if d.w == 0 || d.h == 0 || (n != 1 && n != 3) || len(s) < 6+3*n {
		return errJPEGFallback
	}

	for i := range n {
		c := &jpegComp{id: int(s[6+3*i]), h: int(s[7+3*i] >> 4), v: int(s[7+3*i] & 15), tq: int(s[8+3*i])}
		if c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4 || c.tq > 3 {
			return errors.New("jpeg: bad component")
		}
		d.hmax, d.vmax = max(d.hmax, c.h), max(d.vmax, c.v)
		d.comps = append(d.comps, c)
	}
	mx, my := (d.w+8*d.hmax-1)/(8*d.hmax), (d.h+8*d.vmax-1)/(8*d.vmax)
	// Every coded block takes at least 2 bits (a DC and an end-of-block
	// code), so the data bounds the work; the memory limit bounds the planes.
	blocks := int64(0)
	for _, c := range d.comps {
		blocks += int64(mx*c.h) * int64(my*c.v)
	}
	if blocks > 4*int64(len(d.data)) || blocks*64+int64(d.w)*int64(d.h)*3*int64(1+len(d.comps)) > d.maxBytes {
		return fmt.Errorf("jpeg: a %dx%d image is implausible for %d bytes of data or over the memory limit", d.w, d.h, len(d.data))
	}
	for _, c := range d.comps {
		c.bw, c.bh = mx*c.h, my*c.v
		c.pix = make([]uint8, c.bw*8*c.bh*8)
	}
	return nil
}

func (d *jpegDecoder) quant() error {
	s, err := d.segment()
	if err != nil {
		return err
	}
	for len(s) > 0 {
		prec, id := s[0]>>4, s[0]&15
		if id > 3 {
			return errors.New("jpeg: bad DQT")
		}
		size := 64 * (1 + int(prec))
		if len(s) < 1+size {
			return errors.New("jpeg: truncated DQT")
		}
		for i := range 64 {
			if prec == 0 {
				d.q[id][i] = int(s[1+i])
			} else {
				d.q[id][i] = int(s[1+2*i])<<8 | int(s[2+2*i])
			}
		}
		s = s[1+size:]
	}
	return nil
}

func (d *jpegDecoder) huffman() error {
	s, err := d.segment()
	if err != nil {
		return err
	}
	for len(s) > 0 {
		if len(s) < 17 {
			return errors.New("jpeg: truncated DHT")
		}
		class, id := s[0]>>4, s[0]&15
		if class > 1 || id > 3 {
			return errors.New("jpeg: bad DHT")
		}
		total := 0
		for i := 1; i <= 16; i++ {
			total += int(s[i])
		}
		if len(s) < 17+total {
			return errors.New("jpeg: truncated DHT")
		}
		t := &jpegHuff{lookup: map[uint32]uint8{}}
		code, k := uint32(0), 17
		for l := 1; l <= 16; l++ {
			for range int(s[l]) {
				t.lookup[uint32(l)<<16|code] = s[k]
				t.maxLen = l
				code++
				k++
			}
			code <<= 1
		}
		if class == 0 {
			d.dc[id] = t
		} else {
			d.ac[id] = t
		}
		s = s[17+total:]
	}
	return nil
}

// bit returns the next entropy-coded bit; past a marker it feeds zeros.
func (d *jpegDecoder) bit() uint32 {
	if d.nbits == 0 {
		var b byte
		if d.pos < len(d.data) {
			b = d.data[d.pos]
			if b == 0xFF {
				if d.pos+1 < len(d.data) && d.data[d.pos+1] == 0x00 {
					d.pos += 2
				} else {
					b = 0 // a marker: leave it for the caller
				}
			} else {
				d.pos++
			}
		}
		d.bits, d.nbits = uint32(b), 8
	}
	d.nbits--
	return (d.bits >> uint(d.nbits)) & 1
}

func (d *jpegDecoder) receive(n int) int {
	v := 0
	for range n {
		v = v<<1 | int(d.bit())
	}
	return v
}

func extend(v, n int) int {
	if n > 0 && v < 1<<(n-1) {
		return v - (1 << n) + 1
	}
	return v
}

func (d *jpegDecoder) decodeHuff(t *jpegHuff) (int, error) {
	code := uint32(0)
	for l := 1; l <= t.maxLen; l++ {
		code = code<<1 | d.bit()
		if s, ok := t.lookup[uint32(l)<<16|code]; ok {
			return int(s), nil
		}
	}
	return 0, errors.New("jpeg: bad Huffman code")
}

func (d *jpegDecoder) scan() error {
	s, err := d.segment()
	if err != nil || len(s) < 1 {
		return errors.New("jpeg: bad SOS")
	}
	n := int(s[0])
	if n != len(d.comps) || len(s) < 1+2*n+3 {
		return errJPEGFallback // non-interleaved multi-scan images
	}
	for i := range n {
		var c *jpegComp
		for _, cc := range d.comps {
			if cc.id == int(s[1+2*i]) {
				c = cc
			}
		}
		if c == nil || d.comps[i] != c {
			return errors.New("jpeg: bad SOS component")
		}
		c.td, c.ta = int(s[2+2*i]>>4), int(s[2+2*i]&15)
		if c.td > 3 || c.ta > 3 || d.dc[c.td] == nil || d.ac[c.ta] == nil {
			return errors.New("jpeg: missing Huffman table")
		}
	}
	mx, my := d.comps[0].bw/d.comps[0].h, d.comps[0].bh/d.comps[0].v
	if len(d.comps) == 1 {
		// A single-component scan is not interleaved: one block per MCU.
		c := d.comps[0]
		mx, my = (d.w+7)/8, (d.h+7)/8
		c.h, c.v, d.hmax, d.vmax = 1, 1, 1, 1
	}
	var blk [64]int
	mcus := 0
	for my0 := range my {
		for mx0 := range mx {
			if d.restart > 0 && mcus > 0 && mcus%d.restart == 0 {
				d.nbits = 0
				if _, err := d.marker(); err != nil {
					return err
				}
				for _, c := range d.comps {
					c.pred = 0
				}
			}
			mcus++
			for _, c := range d.comps {
				for by := range c.v {
					for bx := range c.h {
						if err := d.block(c, &blk); err != nil {
							return err
						}
						row, col := my0*c.v+by, mx0*c.h+bx
						stride := c.bw * 8
						jpegIDCTIslow(&blk, &d.q[c.tq], c.pix[row*8*stride+col*8:], stride)
					}
				}
			}
		}
	}
	return nil
}

func (d *jpegDecoder) block(c *jpegComp, blk *[64]int) error {
	*blk = [64]int{}
	t, err := d.decodeHuff(d.dc[c.td])
	if err != nil {
		return err
	}
	if t > 16 {
		return errors.New("jpeg: bad DC size")
	}
	c.pred += extend(d.receive(t), t)
	blk[0] = c.pred
	for k := 1; k < 64; {
		rs, err := d.decodeHuff(d.ac[c.ta])
		if err != nil {
			return err
		}
		r, s := rs>>4, rs&15
		if s == 0 {
			if r != 15 {
				break // end of block
			}
			k += 16
			continue
		}
		k += r
		if k > 63 {
			return errors.New("jpeg: bad AC run")
		}
		blk[jpegZigzag[k]] = extend(d.receive(s), s)
		k++
	}
	return nil
}

// jpegIDCTIslow is libjpeg's jpeg_idct_islow: a scaled integer LL&M IDCT
// with 13 fractional bits and 2 extra bits between the passes.
func jpegIDCTIslow(blk *[64]int, q *[64]int, out []uint8, stride int) {
	const (
		cb = 13 // fractional bits of the constants
		p1 = 2  // extra bits kept between the passes
	)
	var ws [64]int
	deq := func(i int) int { return blk[i] * q[jpegZigzagInv[i]] }
	descale := func(x, n int) int { return (x + 1<<(n-1)) >> n }
	for c := range 8 {
		if blk[8+c] == 0 && blk[16+c] == 0 && blk[24+c] == 0 && blk[32+c] == 0 && blk[40+c] == 0 && blk[48+c] == 0 && blk[56+c] == 0 {
			dc := deq(c) << p1
			for r := range 8 {
				ws[r*8+c] = dc
			}
			continue
		}
		z2, z3 := deq(16+c), deq(48+c)
		z1 := (z2 + z3) * fix0541
		tmp2 := z1 - z3*fix1847
		tmp3 := z1 + z2*fix0765
		z2, z3 = deq(c), deq(32+c)
		tmp0 := (z2 + z3) << cb
		tmp1 := (z2 - z3) << cb
		tmp10, tmp13 := tmp0+tmp3, tmp0-tmp3
		tmp11, tmp12 := tmp1+tmp2, tmp1-tmp2
		o0, o1, o2, o3 := deq(56+c), deq(40+c), deq(24+c), deq(8+c)
		a0, a1, a2, a3 := jpegOdd(o0, o1, o2, o3)
		ws[c] = descale(tmp10+a3, cb-p1)
		ws[56+c] = descale(tmp10-a3, cb-p1)
		ws[8+c] = descale(tmp11+a2, cb-p1)
		ws[48+c] = descale(tmp11-a2, cb-p1)
		ws[16+c] = descale(tmp12+a1, cb-p1)
		ws[40+c] = descale(tmp12-a1, cb-p1)
		ws[24+c] = descale(tmp13+a0, cb-p1)
		ws[32+c] = descale(tmp13-a0, cb-p1)
	}
	clamp := func(v int) uint8 { return uint8(min(max(v+128, 0), 255)) }
	for r := range 8 {
		w := ws[r*8 : r*8+8]
		o := out[r*stride : r*stride+8]
		z2, z3 := w[2], w[6]
		z1 := (z2 + z3) * fix0541
		tmp2 := z1 - z3*fix1847
		tmp3 := z1 + z2*fix0765
		tmp0 := (w[0] + w[4]) << cb
		tmp1 := (w[0] - w[4]) << cb
		tmp10, tmp13 := tmp0+tmp3, tmp0-tmp3
		tmp11, tmp12 := tmp1+tmp2, tmp1-tmp2
		a0, a1, a2, a3 := jpegOdd(w[7], w[5], w[3], w[1])
		const n = cb + p1 + 3
		o[0] = clamp(descale(tmp10+a3, n))
		o[7] = clamp(descale(tmp10-a3, n))
		o[1] = clamp(descale(tmp11+a2, n))
		o[6] = clamp(descale(tmp11-a2, n))
		o[2] = clamp(descale(tmp12+a1, n))
		o[5] = clamp(descale(tmp12-a1, n))
		o[3] = clamp(descale(tmp13+a0, n))
		o[4] = clamp(descale(tmp13-a0, n))
	}
}

// libjpeg's FIX(x) constants: round(x · 2^13).
const (
	fix0298 = 2446
	fix0390 = 3196
	fix0541 = 4433
	fix0765 = 6270
	fix0899 = 7373
	fix1175 = 9633
	fix1501 = 12299
	fix1847 = 15137
	fix1961 = 16069
	fix2053 = 16819
	fix2562 = 20995
	fix3072 = 25172
)

// jpegOdd is the odd part of the islow IDCT for inputs 7, 5, 3, 1.
func jpegOdd(t0, t1, t2, t3 int) (int, int, int, int) {
	z1, z2, z3, z4 := t0+t3, t1+t2, t0+t2, t1+t3
	z5 := (z3 + z4) * fix1175
	t0 *= fix0298
	t1 *= fix2053
	t2 *= fix3072
	t3 *= fix1501
	z1 *= -fix0899
	z2 *= -fix2562
	z3 = z3*-fix1961 + z5
	z4 = z4*-fix0390 + z5
	return t0 + z1 + z3, t1 + z2 + z4, t2 + z2 + z3, t3 + z1 + z4
}

// jpegZigzagInv maps a natural-order index to its zigzag position (the order
// of the quantization table).
var jpegZigzagInv = func() (inv [64]int) {
	for k, n := range jpegZigzag {
		inv[n] = k
	}
	return
}()

// output upsamples chroma like libjpeg's fancy upsamplers and converts to RGB.
func (d *jpegDecoder) output() ([]uint8, error) {
	planes := make([][]int, len(d.comps))
	for i, c := range d.comps {
		full, err := d.upsample(c)
		if err != nil {
			return nil, err
		}
		planes[i] = full
	}
	rgb := make([]uint8, d.w*d.h*3)
	for p := range d.w * d.h {
		if len(planes) == 1 {
			g := uint8(planes[0][p])
			rgb[3*p], rgb[3*p+1], rgb[3*p+2] = g, g, g
			continue
		}
		r, g, b := jpegYCC(planes[0][p], planes[1][p], planes[2][p])
		rgb[3*p], rgb[3*p+1], rgb[3*p+2] = r, g, b
	}
	return rgb, nil
}

// upsample returns a component at full resolution (w×h).
func (d *jpegDecoder) upsample(c *jpegComp) ([]int, error) {
	stride := c.bw * 8
	out := make([]int, d.w*d.h)
	hs, vs := d.hmax/c.h, d.vmax/c.v
	if d.hmax%c.h != 0 || d.vmax%c.v != 0 {
		return nil, errJPEGFallback
	}
	// Sizes of the downsampled component as libjpeg computes them.
	cw := (d.w*c.h + d.hmax - 1) / d.hmax
	ch := (d.h*c.v + d.vmax - 1) / d.vmax
	at := func(x, y int) int {
		y = min(max(y, 0), ch-1)
		return int(c.pix[y*stride+x])
	}
	switch {
	case hs == 1 && vs == 1:
		for y := range d.h {
			for x := range d.w {
				out[y*d.w+x] = at(x, y)
			}
		}
	case hs == 2 && vs == 1 && cw > 1:
		row := make([]int, 2*cw)
		for y := range d.h {
			in := func(x int) int { return at(x, y) }
			jpegFancyH2(row, cw, in)
			copy(out[y*d.w:(y+1)*d.w], row)
		}
	case hs == 2 && vs == 2 && cw > 1:
		row := make([]int, 2*cw)
		for y := range d.h {
			iy, far := y/2, y/2-1
			if y%2 == 1 {
				far = y/2 + 1
			}
			colsum := func(x int) int { return 3*at(x, iy) + at(x, far) }
			jpegFancyH2V2(row, cw, colsum)
			copy(out[y*d.w:(y+1)*d.w], row)
		}
	default:
		// Other factors: libjpeg replicates samples.
		for y := range d.h {
			for x := range d.w {
				out[y*d.w+x] = at(x/hs, y/vs)
			}
		}
	}
	return out, nil
}

// jpegFancyH2 is libjpeg's h2v1_fancy_upsample for one row.
func jpegFancyH2(out []int, cw int, in func(int) int) {
	v := in(0)
	out[0], out[1] = v, (v*3+in(1)+2)>>2
	for x := 1; x < cw-1; x++ {
		v = 3 * in(x)
		out[2*x] = (v + in(x-1) + 1) >> 2
		out[2*x+1] = (v + in(x+1) + 2) >> 2
	}
	v = in(cw - 1)
	out[2*cw-2], out[2*cw-1] = (v*3+in(cw-2)+1)>>2, v
}

// jpegFancyH2V2 is libjpeg's h2v2_fancy_upsample for one output row, given
// the column sums 3·near + far of the two nearest input rows.
func jpegFancyH2V2(out []int, cw int, colsum func(int) int) {
	this, next := colsum(0), colsum(1)
	out[0], out[1] = (this*4+8)>>4, (this*3+next+7)>>4
	last := this
	this = next
	for x := 1; x < cw-1; x++ {
		next = colsum(x + 1)
		out[2*x] = (this*3 + last + 8) >> 4
		out[2*x+1] = (this*3 + next + 7) >> 4
		last, this = this, next
	}
	out[2*cw-2], out[2*cw-1] = (this*3+last+8)>>4, (this*4+7)>>4
}

// jpegYCC is libjpeg's fixed-point YCbCr→RGB (16 fractional bits).
func jpegYCC(y, cb, cr int) (uint8, uint8, uint8) {
	const half = 1 << 15
	fix := func(x float64) int { return int(x*65536 + 0.5) }
	x, z := cr-128, cb-128
	r := y + (fix(1.40200)*x+half)>>16
	g := y + (-fix(0.34414)*z+half-fix(0.71414)*x)>>16
	b := y + (fix(1.77200)*z+half)>>16
	cl := func(v int) uint8 { return uint8(min(max(v, 0), 255)) }
	return cl(r), cl(g), cl(b)
}

package interp

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // registers the JPEG decoder with image.Decode
	_ "image/png"  // registers the PNG decoder

	_ "golang.org/x/image/bmp"  // registers BMP
	_ "golang.org/x/image/tiff" // registers TIFF
	_ "golang.org/x/image/webp" // registers WebP

	"github.com/onnxslim/onnxslim/onnx"
)

// ImageDecoder decodes an encoded image (a 1-D uint8 tensor) to an [H, W, C]
// uint8 tensor with Go's image decoders (PNG, JPEG; BMP, TIFF and WebP from
// golang.org/x/image) and a small PNM reader of our own.

func imageDecoderBuilder(b *Build) (Kernel, error) {
	format := b.String("pixel_format", "RGB")
	if format != "RGB" && format != "BGR" && format != "Grayscale" {
		return nil, fmt.Errorf("unknown pixel_format %q", format)
	}
	return func(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
		x := in[0]
		if x.DType != onnx.Uint8 || x.Rank() != 1 {
			return nil, fmt.Errorf("encoded data must be a 1-D uint8 tensor, got %s", x)
		}
		data := x.Data.([]uint8)
		rgb, w, h, err := decodeImage(data, ctx.opts.MaxMemory)
		if err != nil {
			return nil, err
		}
		c := 3
		if format == "Grayscale" {
			c = 1
		}
		out := ctx.New(onnx.Uint8, h, w, c)
		d := out.Data.([]uint8)
		for p := range w * h {
			rr, gg, bb := rgb[3*p], rgb[3*p+1], rgb[3*p+2]
			switch format {
			case "RGB":
				d[3*p], d[3*p+1], d[3*p+2] = rr, gg, bb
			case "BGR":
				d[3*p], d[3*p+1], d[3*p+2] = bb, gg, rr
			default:
				// ITU-R 601-2 luma with 16-bit fixed point, as PIL's convert("L").
				d[p] = uint8((uint32(rr)*19595 + uint32(gg)*38470 + uint32(bb)*7471 + 0x8000) >> 16)
			}
		}
		return []*Tensor{out}, nil
	}, nil
}

// decodeImage decodes to interleaved 8-bit RGB, matching the libraries
// behind ONNX's reference (PIL with libjpeg and libwebp) where Go's own
// decoders would convert colors differently.
func decodeImage(data []byte, maxBytes int64) ([]uint8, int, int, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxMemory
	}
	rgb, w, h, err := decodeJPEGLibjpeg(data, maxBytes)
	if err == nil {
		return rgb, w, h, nil
	}
	if err != errJPEGFallback {
		return nil, 0, 0, fmt.Errorf("cannot decode the JPEG image: %v", err)
	}
	img, err := decodePNM(data, maxBytes)
	kind := "pnm"
	if err == errNotPNM {
		// Check the size first: the decoders allocate the whole image.
		cfg, _, cerr := image.DecodeConfig(bytes.NewReader(data))
		if cerr != nil {
			return nil, 0, 0, fmt.Errorf("cannot decode the image: %v", cerr)
		}
		if int64(cfg.Width)*int64(cfg.Height)*8 > maxBytes {
			return nil, 0, 0, fmt.Errorf("a %dx%d image is over the memory limit", cfg.Width, cfg.Height)
		}
		img, kind, err = image.Decode(bytes.NewReader(data))
	}
	if err != nil {
		return nil, 0, 0, fmt.Errorf("cannot decode the image: %v", err)
	}
	r := img.Bounds()
	w, h = r.Dx(), r.Dy()
	if y, ok := img.(*image.YCbCr); ok && kind == "webp" && y.SubsampleRatio == image.YCbCrSubsampleRatio420 {
		return webpRGB(y), w, h, nil
	}
	rgb = make([]uint8, w*h*3)
	for y := range h {
		for x := range w {
			p := (y*w + x) * 3
			rgb[p], rgb[p+1], rgb[p+2] = rgb8(img.At(r.Min.X+x, r.Min.Y+y))
		}
	}
	return rgb, w, h, nil
}

// rgb8 returns a pixel's 8-bit RGB, ignoring alpha (the decoders return
// non-premultiplied colors for opaque images).
func rgb8(c color.Color) (uint8, uint8, uint8) {
	switch v := c.(type) {
	case color.RGBA:
		return v.R, v.G, v.B
	case color.NRGBA:
		return v.R, v.G, v.B
	case color.Gray:
		return v.Y, v.Y, v.Y
	case color.YCbCr:
		return color.YCbCrToRGB(v.Y, v.Cb, v.Cr)
	}
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	return n.R, n.G, n.B
}

var errNotPNM = fmt.Errorf("not a PNM image")

// decodePNM reads binary and ASCII PPM/PGM (P2, P3, P5, P6) with maxval ≤ 255.
func decodePNM(b []byte, maxBytes int64) (image.Image, error) {
	if len(b) < 2 || b[0] != 'P' || (b[1] != '2' && b[1] != '3' && b[1] != '5' && b[1] != '6') {
		return nil, errNotPNM
	}
	kind := b[1]
	pos := 2
	next := func() (int, error) {
		for pos < len(b) {
			switch c := b[pos]; {
			case c == '#':
				for pos < len(b) && b[pos] != '\n' {
					pos++
				}
			case c == ' ' || c == '\t' || c == '\n' || c == '\r':
				pos++
			default:
				goto num
			}
		}
	num:
		v, start := 0, pos
		for pos < len(b) && b[pos] >= '0' && b[pos] <= '9' {
			v = v*10 + int(b[pos]-'0')
			if v > 1<<24 {
				return 0, fmt.Errorf("PNM header value too large")
			}
			pos++
		}
		if pos == start {
			return 0, fmt.Errorf("bad PNM header")
		}
		return v, nil
	}
	w, err := next()
	if err != nil {
		return nil, err
	}
	h, err := next()
	if err != nil {
		return nil, err
	}
	maxv, err := next()
	if err != nil {
		return nil, err
	}
	if maxv <= 0 || maxv > 255 {
		return nil, fmt.Errorf("PNM maxval %d is not supported", maxv)
	}
	ch := 3
	if kind == '2' || kind == '5' {
		ch = 1
	}
	n := w * h * ch
	// Every sample takes at least one byte (two in ASCII files).
	if int64(n) > int64(len(b)) || int64(w)*int64(h)*8 > maxBytes {
		return nil, fmt.Errorf("PNM data is truncated or the %dx%d image too large", w, h)
	}
	vals := make([]int, n)
	if kind == '5' || kind == '6' {
		pos++ // the single whitespace after maxval
		if len(b)-pos < n {
			return nil, fmt.Errorf("PNM data is truncated")
		}
		for i := range vals {
			vals[i] = int(b[pos+i])
		}
	} else {
		for i := range vals {
			if vals[i], err = next(); err != nil {
				return nil, err
			}
		}
	}
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	scale := func(v int) uint8 { return uint8(min(v, maxv) * 255 / maxv) }
	for i := range w * h {
		p := img.Pix[i*4 : i*4+4]
		if ch == 1 {
			g := scale(vals[i])
			p[0], p[1], p[2] = g, g, g
		} else {
			p[0], p[1], p[2] = scale(vals[i*3]), scale(vals[i*3+1]), scale(vals[i*3+2])
		}
		p[3] = 255
	}
	return img, nil
}

func init() {
	Register("", "ImageDecoder", 20, needInputs(1, imageDecoderBuilder))
}

// webpRGB converts a lossy WebP's 4:2:0 planes to RGB as libwebp does (and
// so PIL): "fancy" bilinear chroma upsampling with 9-3-3-1 weights and
// libwebp's fixed-point YUV→RGB.
func webpRGB(img *image.YCbCr) []uint8 {
	r := img.Rect
	w, h := r.Dx(), r.Dy()
	out := make([]uint8, w*h*3)
	cw := (w + 1) / 2
	ch := (h + 1) / 2
	chroma := func(p []uint8, row int) []uint8 {
		row = min(max(row, 0), ch-1)
		return p[row*img.CStride : row*img.CStride+cw]
	}
	mulHi := func(v, c int) int { return (v * c) >> 8 }
	clip := func(v int) uint8 {
		if v&^(256<<6-1) == 0 {
			return uint8(v >> 6)
		}
		if v < 0 {
			return 0
		}
		return 255
	}
	put := func(y, x, yy, u, v int) {
		yc := mulHi(yy, 19077)
		o := (y*w + x) * 3
		out[o] = clip(yc + mulHi(v, 26149) - 14234)
		out[o+1] = clip(yc - mulHi(u, 6419) - mulHi(v, 13320) + 8708)
		out[o+2] = clip(yc + mulHi(u, 33050) - 17685)
	}
	for y := range h {
		// Output row y blends chroma rows near (3/4) and far (1/4).
		near, far := y/2, y/2
		switch {
		case y == 0:
		case y%2 == 1:
			near, far = (y-1)/2, (y+1)/2
		default:
			near, far = y/2, y/2-1
		}
		nu, fu := chroma(img.Cb, near), chroma(img.Cb, far)
		nv, fv := chroma(img.Cr, near), chroma(img.Cr, far)
		yrow := img.Y[y*img.YStride:]
		// Per output pixel pair, libwebp interpolates diagonally in two steps.
		sample := func(n, f []uint8, x int) int {
			if x == 0 || (x == w-1 && w%2 == 0) {
				c := x / 2
				return (3*int(n[c]) + int(f[c]) + 2) >> 2
			}
			k := (x + 1) / 2 // pair index: pixels 2k-1 and 2k
			tl, t := int(n[k-1]), int(n[k])
			l, c := int(f[k-1]), int(f[k])
			avg := tl + t + l + c + 8
			if x%2 == 1 { // left pixel of the pair: nearer to column k-1
				return (((avg + 2*(t+l)) >> 3) + tl) >> 1
			}
			return (((avg + 2*(tl+c)) >> 3) + t) >> 1
		}
		for x := range w {
			put(y, x, int(yrow[x]), sample(nu, fu, x), sample(nv, fv, x))
		}
	}
	return out
}

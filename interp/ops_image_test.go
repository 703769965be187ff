package interp

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

func decodeWith(t *testing.T, format string, data []byte) (*Tensor, error) {
	t.Helper()
	out, err := runKernel("ImageDecoder", "", 20, []*onnx.Attribute{onnx.StringAttr("pixel_format", format)}, 1, FromSlice(onnx.Uint8, []int{len(data)}, data))
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// testImage is a smooth gradient with a few sharp edges.
func testImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x + y) * 2), 255})
		}
	}
	return img
}

func TestImageDecoderPNGAndPNM(t *testing.T) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, testImage(7, 5)); err != nil {
		t.Fatal(err)
	}
	rgb, err := decodeWith(t, "RGB", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	bgr, _ := decodeWith(t, "BGR", buf.Bytes())
	gray, _ := decodeWith(t, "Grayscale", buf.Bytes())
	if fmt.Sprint(rgb.Shape, gray.Shape) != "[5 7 3] [5 7 1]" {
		t.Fatalf("shapes %v %v", rgb.Shape, gray.Shape)
	}
	c := testImage(7, 5).NRGBAAt(6, 4)
	p := rgb.Data.([]uint8)[(4*7+6)*3:]
	q := bgr.Data.([]uint8)[(4*7+6)*3:]
	if p[0] != c.R || p[1] != c.G || p[2] != c.B || q[0] != c.B || q[2] != c.R {
		t.Errorf("pixel (6,4): RGB %v BGR %v, want %v", p[:3], q[:3], c)
	}

	pnm := []byte("P3\n# a comment\n2 1\n255\n255 0 0  0 0 255\n")
	out, err := decodeWith(t, "RGB", pnm)
	if err != nil || fmt.Sprint(out.Shape, out.Data) != "[1 2 3] [255 0 0 0 0 255]" {
		t.Errorf("PNM: got %v, %v", out, err)
	}
	out, err = decodeWith(t, "RGB", []byte("P5 2 1 15\n\x0f\x00"))
	if err != nil || fmt.Sprint(out.Data) != "[255 255 255 0 0 0]" {
		t.Errorf("PGM maxval 15: got %v, %v", out, err)
	}
}

// The libjpeg-exact decoder must agree with Go's decoder up to IDCT and
// chroma-upsampling differences.
func TestImageDecoderJPEG(t *testing.T) {
	for _, gray := range []bool{false, true} {
		var src image.Image = testImage(37, 21)
		if gray {
			g := image.NewGray(src.Bounds())
			for y := range 21 {
				for x := range 37 {
					g.Set(x, y, src.At(x, y))
				}
			}
			src = g
		}
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 90}); err != nil {
			t.Fatal(err)
		}
		rgb, _, _, err := decodeJPEGLibjpeg(buf.Bytes(), DefaultMaxMemory)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := jpeg.Decode(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		worst, total := 0, 0
		for y := range 21 {
			for x := range 37 {
				r, g, b := rgb8(ref.At(x, y))
				for k, v := range []uint8{r, g, b} {
					d := int(rgb[(y*37+x)*3+k]) - int(v)
					d = max(d, -d)
					worst, total = max(worst, d), total+d
				}
			}
		}
		// Gray images differ only by the IDCTs; color ones also by chroma
		// upsampling, replicated by image/jpeg and interpolated by libjpeg.
		limit, mean := 1, 0.5
		if !gray {
			limit, mean = 12, 4
		}
		if worst > limit || float64(total)/(37*21*3) > mean {
			t.Errorf("gray=%v: differs from image/jpeg by up to %d (mean %.2f)", gray, worst, float64(total)/(37*21*3))

		}
	}
}

// Corrupt data must give errors, never panics.
func TestImageDecoderBadData(t *testing.T) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, testImage(16, 16), nil); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	r := rand.New(rand.NewPCG(1, 2))
	cases := [][]byte{{}, {0xFF, 0xD8}, good[:len(good)/2], good[:200], []byte("P6 100000 100000 255\n"), []byte("GIF89a")}
	for range 200 {
		b := append([]byte{}, good...)
		for range 4 {
			b[2+r.IntN(len(b)-2)] = byte(r.IntN(256))
		}
		cases = append(cases, b)
	}
	for _, c := range cases {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("panic on %d bytes: %v", len(c), p)
				}
			}()
			decodeImage(c, 1<<30)
		}()
	}
	if _, err := decodeWith(t, "RGB", []byte("not an image")); err == nil {
		t.Error("garbage: want an error")
	}
}

package interp

import (
	"math"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

// Every finite code decodes to a value that encodes back to the same code.
func TestFloat8RoundTrip(t *testing.T) {
	for _, dt := range []onnx.DataType{onnx.Float8E4M3FN, onnx.Float8E4M3FNUZ, onnx.Float8E5M2, onnx.Float8E5M2FNUZ, onnx.Float8E8M0} {
		for b := 0; b < 256; b++ {
			f := Float8ToFloat32(dt, uint8(b))
			if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
				continue
			}
			if dt == onnx.Float8E8M0 && b == 0 {
				continue // 2^-127 is a float32 subnormal, which the reference rounds up
			}
			if got := Float32ToFloat8(dt, f, true); got != uint8(b) {
				t.Errorf("%s: code %#02x decodes to %v, which encodes to %#02x", dt, b, f, got)
			}
		}
	}
	for b := 0; b < 16; b++ {
		f := Float8ToFloat32(onnx.Float4E2M1, uint8(b))
		if got := Float32ToFloat8(onnx.Float4E2M1, f, true); got != uint8(b) {
			t.Errorf("float4e2m1: code %#x decodes to %v, which encodes to %#x", b, f, got)
		}
	}
}

func TestFloat8Encode(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	cases := []struct {
		dt       onnx.DataType
		f        float32
		saturate bool
		want     uint8
	}{
		{onnx.Float8E4M3FN, 448, true, 0x7E},
		{onnx.Float8E4M3FN, 464, true, 0x7E}, // ties to even: 448
		{onnx.Float8E4M3FN, 1e6, false, 0x7F},
		{onnx.Float8E4M3FN, -inf, true, 0xFE},
		{onnx.Float8E4M3FN, -inf, false, 0xFF},
		{onnx.Float8E4M3FN, -1e-7, true, 0x80},
		{onnx.Float8E4M3FN, nan, true, 0x7F},
		{onnx.Float8E4M3FN, 0.001953125, true, 0x01}, // smallest subnormal 2^-9
		{onnx.Float8E4M3FNUZ, -1e-7, true, 0x00},     // no negative zero
		{onnx.Float8E4M3FNUZ, inf, false, 0x80},
		{onnx.Float8E4M3FNUZ, -240, true, 0xFF},
		{onnx.Float8E5M2, inf, false, 0x7C},
		{onnx.Float8E5M2, -1e6, false, 0xFC},
		{onnx.Float8E5M2, -1e6, true, 0xFB},
		{onnx.Float8E5M2, nan, true, 0x7E},
		{onnx.Float8E5M2FNUZ, 1e6, true, 0x7F},
		{onnx.Float8E5M2FNUZ, nan, true, 0x80},
		{onnx.Float4E2M1, 1000000, true, 0x07},
		{onnx.Float4E2M1, nan, true, 0x08},
		{onnx.Float4E2M1, 0.25, true, 0x00}, // tie between 0 and 0.5: even
		{onnx.Float4E2M1, -3.5, true, 0x0E}, // tie between 3 and 4: 4
		{onnx.Float8E8M0, 0.124, true, 0x7C},
		{onnx.Float8E8M0, 1.1, true, 0x80},
		{onnx.Float8E8M0, inf, true, 0xFF},
	}
	for _, c := range cases {
		if got := Float32ToFloat8(c.dt, c.f, c.saturate); got != c.want {
			t.Errorf("%s(%v, saturate=%v) = %#02x, want %#02x", c.dt, c.f, c.saturate, got, c.want)
		}
	}
}

func TestFloat64ToFloat16(t *testing.T) {
	// 1 + 2^-11 + 2^-40 lies just above the midpoint between two halves: a
	// detour through float32 would drop the 2^-40 and round to even (down).
	x := 1 + math.Ldexp(1, -11) + math.Ldexp(1, -40)
	if got := Float64ToFloat16(x); got != 0x3C01 {
		t.Errorf("Float64ToFloat16(%v) = %#04x, want 0x3c01", x, got)
	}
	for _, c := range []struct {
		f    float64
		want uint16
	}{{65504, 0x7BFF}, {65520, 0x7C00}, {math.Copysign(0, -1), 0x8000}, {math.Ldexp(1, -24), 0x0001}, {math.Ldexp(1, -26), 0}} {
		if got := Float64ToFloat16(c.f); got != c.want {
			t.Errorf("Float64ToFloat16(%v) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
	// Agrees with the float32 conversion on every float16 value and midpoint.
	for h := 0; h < 0x7C00; h++ {
		f := Float16ToFloat32(uint16(h))
		if got := Float64ToFloat16(float64(f)); got != uint16(h) {
			t.Fatalf("half %#04x: got %#04x", h, got)
		}
		next := Float16ToFloat32(uint16(h + 1))
		mid := (float64(f) + float64(next)) / 2
		if a, b := Float64ToFloat16(mid), Float32ToFloat16(float32(mid)); a != b {
			t.Fatalf("midpoint %v: %#04x vs %#04x", mid, a, b)
		}
	}
}

// Command convint writes a ConvInteger model for `make bench-quant`: four
// 64→64 3×3 ConvInteger layers on a 56×56 uint8 input (resnet's first
// stage, as ONNX Runtime's dynamic quantizer writes convolutions), each
// followed by Cast, Mul and QuantizeLinear back to uint8.
//
//	go run ./tools/convint OUT.onnx
package main

import (
	"fmt"
	"math/rand/v2"
	"os"

	"github.com/onnxslim/onnxslim/onnx"
)

func main() {
	r := rand.New(rand.NewPCG(1, 2))
	g := &onnx.Graph{Name: "ci"}
	x := g.AddInput("x", onnx.TensorType(onnx.Uint8, onnx.Shape{onnx.D(1), onnx.D(64), onnx.D(56), onnx.D(56)}))
	cur := x
	for i := 0; i < 4; i++ {
		w := make([]byte, 64*64*9)
		for j := range w {
			w[j] = byte(100 + r.IntN(56))
		}
		wt := &onnx.Tensor{DataType: onnx.Uint8, Dims: []int64{64, 64, 3, 3}, Raw: w}
		wv := g.AddInitializer(fmt.Sprint("w", i), wt)
		xz := g.AddInitializer("xz"+fmt.Sprint(i), &onnx.Tensor{DataType: onnx.Uint8, Dims: nil, Raw: []byte{128}})
		wz := g.AddInitializer("wz"+fmt.Sprint(i), &onnx.Tensor{DataType: onnx.Uint8, Dims: nil, Raw: []byte{128}})
		n := g.NewNode("ConvInteger", "", "conv"+fmt.Sprint(i), []*onnx.Value{cur, wv, xz, wz}, "y"+fmt.Sprint(i))
		n.SetAttr(onnx.IntsAttr("kernel_shape", []int64{3, 3}))
		n.SetAttr(onnx.IntsAttr("pads", []int64{1, 1, 1, 1}))
		g.Append(n)
		cf := g.NewNode("Cast", "", "castf"+fmt.Sprint(i), []*onnx.Value{n.Output(0)}, "f"+fmt.Sprint(i))
		cf.SetAttr(onnx.IntAttr("to", int64(onnx.Float)))
		g.Append(cf)
		sc := g.AddInitializer("s"+fmt.Sprint(i), onnx.NewFloatTensor("", nil, []float32{1.0 / 4096}))
		mul := g.NewNode("Mul", "", "mul"+fmt.Sprint(i), []*onnx.Value{cf.Output(0), sc}, "m"+fmt.Sprint(i))
		g.Append(mul)
		q := g.NewNode("QuantizeLinear", "", "q"+fmt.Sprint(i), []*onnx.Value{mul.Output(0), g.AddInitializer("qs"+fmt.Sprint(i), onnx.NewFloatTensor("", nil, []float32{1})), g.AddInitializer("qz"+fmt.Sprint(i), &onnx.Tensor{DataType: onnx.Uint8, Raw: []byte{128}})}, "u"+fmt.Sprint(i))
		g.Append(q)
		cur = q.Output(0)
	}
	cur.Type = onnx.TensorType(onnx.Uint8, nil)
	g.Outputs = append(g.Outputs, cur)
	m := &onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 13}}, Graph: g}
	if err := onnx.Save(m, os.Args[1], onnx.SaveOptions{}); err != nil {
		panic(err)
	}
}

package onnx

import "testing"

// TestMergeTypes: primary's knowledge wins, its unknowns are filled from
// secondary, an unknown never replaces a known.
func TestMergeTypes(t *testing.T) {
	f := func(s ...Dim) *Type { return TensorType(Float, Shape(s)) }
	unknown := Dim{}
	for _, tc := range []struct {
		name            string
		primary, second *Type
		want            string
	}{
		{"nil primary", nil, f(D(1), D(8)), "float32[1,8]"},
		{"nil secondary", f(D(1), D(8)), nil, "float32[1,8]"},
		{"both nil", nil, nil, "?"},
		{"no elem", &Type{Kind: TypeTensor}, f(D(1)), "float32[1]"},
		{"no shape", TensorType(Float, nil), f(Sym("N"), D(8)), "float32[N,8]"},
		{"unknown dim filled", f(unknown, D(8)), f(D(1), D(8)), "float32[1,8]"},
		{"known dim kept", f(D(2), D(8)), f(D(1), D(8)), "float32[2,8]"},
		{"symbol kept", f(Sym("batch"), D(8)), f(Sym("N"), D(8)), "float32[batch,8]"},
		{"rank differs", f(D(1)), f(D(1), D(8)), "float32[1]"},
		{"elem differs", f(unknown), TensorType(Float16, ShapeOf(4)), "float32[?]"},
		{"kind differs", f(D(1)), &Type{Kind: TypeSequence, Inner: f(D(2))}, "float32[1]"},
		{"secondary empty", f(D(3)), &Type{}, "float32[3]"},
	} {
		got := MergeTypes(tc.primary, tc.second)
		if got.String() != tc.want {
			t.Errorf("%s: %v", tc.name, got)
		}
		if tc.primary != nil && got == tc.primary {
			t.Errorf("%s: returned primary itself, not a copy", tc.name)
		}
	}
}

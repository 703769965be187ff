package onnx

import (
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/onnxslim/onnxslim/onnx/internal/onnxpb"
)

// Weights stored inside the model file (raw_data, not external data) are
// views of the mapped file as external data is, not copies: protobuf-go
// copies every bytes field it decodes, so a 1.5 GiB model would cost 1.5 GiB
// of memory. Before decoding, the message is copied without its large
// raw_data fields — each replaced by a private field holding its index —
// and after decoding each such tensor's Raw is set to its bytes in the file.

// aliasMin is the raw_data size from which a tensor aliases the file.
const aliasMin = 64 << 10

// aliasFileMin is the model file size from which Load aliases raw_data:
// below it the copies cost little and decoding is one pass.
const aliasFileMin = 16 << 20

// aliasField numbers the private field that marks a stripped raw_data.
const aliasField = protowire.MaxValidNumber

var (
	tensorProtoName = (&pb.TensorProto{}).ProtoReflect().Descriptor().FullName()
	modelProtoName  = (&pb.ModelProto{}).ProtoReflect().Descriptor().FullName()
)

// stripRawData appends to out the message b (of type md) without the
// raw_data fields of aliasMin bytes or more of the tensors it holds at any
// depth, each replaced by an aliasField with its index in *raws, where the
// field's bytes (a sub-slice of b) go. ok is false for a malformed message:
// the caller then decodes b as it is, for the decoder's error.
func stripRawData(out, b []byte, md protoreflect.MessageDescriptor, raws *[][]byte, depth int) ([]byte, bool) {
	if depth > protoRecursionLimit {
		return nil, false
	}
	isTensor, isModel := md.FullName() == tensorProtoName, md.FullName() == modelProtoName
	for off := 0; off < len(b); {
		num, typ, n := protowire.ConsumeTag(b[off:])
		if n < 0 {
			return nil, false
		}
		m := protowire.ConsumeFieldValue(num, typ, b[off+n:])
		if m < 0 {
			return nil, false
		}
		field := b[off : off+n+m]
		off += n + m
		if typ != protowire.BytesType {
			out = append(out, field...)
			continue
		}
		val, _ := protowire.ConsumeBytes(field[n:])
		switch fd := md.Fields().ByNumber(num); {
		case isTensor && num == 9 && len(val) >= aliasMin: // raw_data
			out = protowire.AppendTag(out, aliasField, protowire.VarintType)
			out = protowire.AppendVarint(out, uint64(len(*raws)))
			*raws = append(*raws, val)
		case isModel && num != 7 && num != 25:
			// Only the graph and the functions: the IR keeps other
			// messages (training_info's graphs) as bytes, which unalias
			// would not reach.
			out = append(out, field...)
		case fd != nil && fd.Kind() == protoreflect.MessageKind:
			sub, ok := stripRawData(nil, val, fd.Message(), raws, depth+1)
			if !ok {
				return nil, false
			}
			out = protowire.AppendTag(out, num, protowire.BytesType)
			out = protowire.AppendBytes(out, sub)
		default:
			out = append(out, field...)
		}
	}
	return out, true
}

// unalias gives each tensor of m that stripRawData marked its bytes from
// raws, and drops the mark. ok is false unless every one of raws found its
// tensor (the caller then decodes the file as it is).
func (m *Model) unalias(raws [][]byte) bool {
	found := 0
	_ = m.Tensors(func(_ string, t *Tensor) error {
		if len(t.unknown) == 0 {
			return nil
		}
		var rest []byte
		for b := t.unknown; len(b) > 0; {
			num, typ, n := protowire.ConsumeTag(b)
			if n < 0 {
				return nil // not ours: left as read
			}
			m := protowire.ConsumeFieldValue(num, typ, b[n:])
			if m < 0 {
				return nil
			}
			if i, _ := protowire.ConsumeVarint(b[n:]); num == aliasField && typ == protowire.VarintType && i < uint64(len(raws)) {
				t.Raw = raws[i]
				found++
			} else {
				rest = append(rest, b[:n+m]...)
			}
			b = b[n+m:]
		}
		t.unknown = rest
		return nil
	})
	return found == len(raws)
}

// decodeMapped is DecodeUnchecked for a mapped model file: large raw_data
// stays in the file.
func decodeMapped(data []byte) (*Model, error) {
	if !mapsFiles || len(data) < aliasFileMin {
		return DecodeUnchecked(data)
	}
	var raws [][]byte
	compact, ok := stripRawData(nil, data, (&pb.ModelProto{}).ProtoReflect().Descriptor(), &raws, 0)
	if !ok || len(raws) == 0 {
		return DecodeUnchecked(data) // malformed: the decoder says where
	}
	m, err := DecodeUnchecked(compact)
	if err != nil || !m.unalias(raws) {
		return DecodeUnchecked(data) // its error names places in the file
	}
	return m, nil
}

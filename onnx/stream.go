package onnx

import (
	"bufio"
	"fmt"
	"io"
	"sort"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// streamMin is the size from which writeMessage writes a message field by
// field instead of marshalling it whole: only messages below it are ever
// built in memory, so saving needs memory for the largest small message
// (and the IR), not for the model. It is LazyMin: a lazy tensor's
// placeholder (address space only) is never marshalled.
const streamMin = LazyMin

var deterministic = proto.MarshalOptions{Deterministic: true}

// WriteTo encodes the model to w as Encode does, byte for byte, without
// building the whole protobuf in memory: tensor payloads go from their
// buffers (or mapped files) straight to w.
func WriteTo(w io.Writer, m *Model) (int64, error) {
	if err := m.prepareLazy(); err != nil {
		return 0, err
	}
	mp, err := modelToProto(m)
	if err != nil {
		return 0, err
	}
	return writeProto(w, mp.ProtoReflect(), streamMin)
}

// writeProto writes msg's deterministic wire encoding to w and returns the
// number of bytes written.
func writeProto(w io.Writer, msg protoreflect.Message, min int) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	cw := &countWriter{w: bw}
	sw := &streamWriter{w: cw, min: min}
	if pw, ok := w.(payloadWriter); ok {
		sw.payload = func(b []byte) error {
			if err := bw.Flush(); err != nil {
				return err
			}
			cw.n += int64(len(b))
			return pw.WritePayload(b)
		}
	}
	sw.message(msg, deterministic.Size(msg.Interface()))
	if sw.err == nil {
		sw.err = bw.Flush()
	}
	return cw.n, sw.err
}

// payloadWriter is a writer that takes large payloads apart (dataWriter:
// read from their files with direct I/O).
type payloadWriter interface {
	WritePayload(b []byte) error
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// streamWriter writes messages as proto.Marshal orders them (known fields
// by number, then unknown fields), keeping the first error.
type streamWriter struct {
	w       io.Writer
	min     int
	err     error
	buf     []byte
	payload func([]byte) error // large bytes fields, when the writer takes them apart
}

func (s *streamWriter) write(b []byte) {
	if s.err == nil {
		_, s.err = s.w.Write(b)
	}
}

// message writes msg, whose encoded size is size.
func (s *streamWriter) message(msg protoreflect.Message, size int) {
	if s.err != nil {
		return
	}
	if size < s.min {
		s.marshal(msg)
		return
	}
	fields := msg.Descriptor().Fields()
	ordered := make([]protoreflect.FieldDescriptor, fields.Len())
	for i := range ordered {
		ordered[i] = fields.Get(i)
	}
	sort.Slice(ordered, func(i, j int) bool { return ordered[i].Number() < ordered[j].Number() })
	for _, fd := range ordered {
		if !msg.Has(fd) {
			continue
		}
		v := msg.Get(fd)
		switch {
		case fd.IsList() && fd.Kind() == protoreflect.MessageKind:
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				s.sub(fd.Number(), l.Get(i).Message())
			}
		case !fd.IsList() && !fd.IsMap() && fd.Kind() == protoreflect.MessageKind:
			s.sub(fd.Number(), v.Message())
		case !fd.IsList() && fd.Kind() == protoreflect.BytesKind:
			b := v.Bytes()
			s.buf = protowire.AppendTag(s.buf[:0], fd.Number(), protowire.BytesType)
			s.buf = protowire.AppendVarint(s.buf, uint64(len(b)))
			s.write(s.buf)
			switch l := lazyOf(b); {
			case l != nil && s.payload == nil:
				if s.err == nil {
					s.err = l.writeTo(s.w)
				}
			case s.payload != nil && (l != nil || len(b) >= SpillMin):
				if s.err == nil {
					s.err = s.payload(b)
				}
			default:
				s.write(b)
			}
		default: // a scalar or a list of them: marshal it alone
			one := msg.New()
			one.Set(fd, v)
			s.marshal(one)
		}
	}
	s.write(msg.GetUnknown())
}

// marshal writes msg whole.
func (s *streamWriter) marshal(msg protoreflect.Message) {
	if s.err != nil {
		return
	}
	b, err := deterministic.MarshalAppend(s.buf[:0], msg.Interface())
	if err != nil {
		s.err = err
		return
	}
	s.buf = b
	s.write(b)
}

// sub writes a length-delimited sub-message field.
func (s *streamWriter) sub(num protoreflect.FieldNumber, msg protoreflect.Message) {
	size := deterministic.Size(msg.Interface())
	s.buf = protowire.AppendTag(s.buf[:0], num, protowire.BytesType)
	s.buf = protowire.AppendVarint(s.buf, uint64(size))
	s.write(s.buf)
	s.message(msg, size)
	if s.err != nil {
		s.err = fmt.Errorf("%s: %w", msg.Descriptor().Name(), s.err)
	}
}

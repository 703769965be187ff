package onnx

import (
	"bytes"
	"encoding/binary"
)

// notONNX names what data is when it is plainly another kind of file, ""
// otherwise: the protobuf parser's complaint about byte 0 helps nobody who
// downloaded a Git LFS pointer or a web page, or passed a checkpoint. A
// serialized ModelProto starts with a field tag (0x08 for ir_version), so
// none of these signatures can begin one.
func notONNX(data []byte) string {
	head := data[:min(len(data), 512)]
	trimmed := bytes.TrimLeft(head, " \t\r\n\ufeff")
	lower := bytes.ToLower(trimmed)
	switch {
	case isLFSPointer(data):
		return lfsPointerText
	case bytes.HasPrefix(lower, []byte("<!doctype html")), bytes.HasPrefix(lower, []byte("<html")):
		return "an HTML page, not a model (a download that returned a web page?)"
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return "a ZIP archive (a PyTorch .pt/.pth checkpoint, or a zipped model: unzip it; export a PyTorch model with torch.onnx.export)"
	case len(head) >= 8 && string(head[4:8]) == "TFL3":
		return "a TensorFlow Lite model (convert it with tf2onnx)"
	case bytes.HasPrefix(head, []byte("GGUF")):
		return "a GGUF file (llama.cpp), not an ONNX model"
	case bytes.HasPrefix(head, []byte("\x93NUMPY")):
		return "a NumPy .npy array, not a model"
	case bytes.HasPrefix(head, []byte("\x89HDF\r\n\x1a\n")):
		return "an HDF5 file (a Keras .h5 model? convert it with tf2onnx)"
	case len(head) >= 10 && binary.LittleEndian.Uint64(head) < uint64(len(data)) && string(head[8:10]) == `{"`:
		return "a safetensors weights file, not a model"
	}
	return ""
}

const lfsPointerText = "a Git LFS pointer, not the file's content: the repository was cloned or downloaded without its LFS objects (git lfs pull)"

// isLFSPointer reports whether data is the small text file Git LFS leaves in
// place of a file it did not fetch (an external data file too: its bytes
// would otherwise load as weights when the tensor is small enough).
func isLFSPointer(data []byte) bool {
	return len(data) < 1024 && bytes.HasPrefix(data, []byte("version https://git-lfs.github.com/spec/"))
}

package onnx

import (
	"fmt"
	"math"
	"os"
	"sort"
)

// ExternalFile is one external data file of a loaded model: its location
// (relative to the model's folder), its size, and how many tensors and
// bytes of the model it holds.
type ExternalFile struct {
	Location    string
	Bytes       int64
	Tensors     int
	TensorBytes int64
	// Linked: Save made this file a hard link to an input's data file
	// (SaveOptions.LinkData) rather than writing it.
	Linked bool
}

// ExternalFiles lists the external data files the model was loaded from,
// by location (nil for a self-contained model).
func (m *Model) ExternalFiles() []ExternalFile { return cloneSlice(m.external) }

// loadExternal points every externally stored tensor's Raw at its bytes in
// a read-only-in-spirit mapping of the data file (mapFile): nothing is read
// until used, and a tensor no pass touches is written out from the mapping.
// Locations are confined to the model's folder: absolute paths, ".." and
// symlinks that lead out of it are refused (the ONNX external-data
// path-traversal CVEs).
func (m *Model) loadExternal() error {
	type mapping struct {
		data []byte
		rec  *ExternalFile
	}
	maps := map[string]*mapping{}
	var recs []*ExternalFile
	err := m.Tensors(func(place string, t *Tensor) error {
		if t.DataLocation != externalLocation {
			return nil
		}
		ext, err := parseExternal(t.External)
		if err != nil {
			return fmt.Errorf("%s: tensor %q: %w", place, t.Name, err)
		}
		path, err := SafeJoin(m.Dir, ext.location)
		if err != nil {
			return fmt.Errorf("%s: tensor %q: external data: %w", place, t.Name, err)
		}
		mp := maps[path]
		if mp == nil {
			data, err := mapPath(path, true)
			if err != nil {
				return fmt.Errorf("%s: tensor %q: external data: %w", place, t.Name, err)
			}
			if isLFSPointer(data) {
				return fmt.Errorf("%s: tensor %q: external data: %s is %s", place, t.Name, ext.location, lfsPointerText)
			}
			mp = &mapping{data: data, rec: &ExternalFile{Location: ext.location, Bytes: int64(len(data))}}
			maps[path] = mp
			recs = append(recs, mp.rec)
		}
		size := int64(len(mp.data))
		n, err := checkedElements(t.Dims)
		if err != nil {
			return fmt.Errorf("%s: tensor %q: %w", place, t.Name, err)
		}
		if bits := int64(t.DataType.BitSize()); bits > 0 && n > math.MaxInt64/bits {
			return fmt.Errorf("%s: tensor %q: dims %v of %s need more than 2^63 bits", place, t.Name, t.Dims, t.DataType)
		}
		want := t.DataType.RawSize(n)
		length := ext.length
		if length < 0 {
			length = size - ext.offset
		}
		if ext.offset > size || length > size-ext.offset {
			return fmt.Errorf("%s: tensor %q: external data: offset %d + length %d is past the end of %s (%d bytes)",
				place, t.Name, ext.offset, length, ext.location, size)
		}
		if length != want {
			return fmt.Errorf("%s: tensor %q: external data has %d bytes, dims %v of %s need %d",
				place, t.Name, length, t.Dims, t.DataType, want)
		}
		end := ext.offset + length
		// A view of the mapping (capacity cut so that an append copies).
		// The data counts as inline now: Save writes it inline unless asked
		// for external data or the model is over 2 GiB.
		t.Raw, t.External, t.DataLocation = mp.data[ext.offset:end:end], nil, 0
		mp.rec.Tensors++
		mp.rec.TensorBytes += length
		return nil
	})
	if err != nil {
		return err
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Location < recs[j].Location })
	m.external = nil
	for _, r := range recs {
		m.external = append(m.external, *r)
	}
	return nil
}

// mapPath maps a whole file (see mapFile); external says it is a model's
// external data file (which Save may link: SaveOptions.LinkData).
func mapPath(path string, external bool) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	data, err := mapFile(f, st.Size())
	if err != nil || !mapsFiles || len(data) == 0 {
		f.Close()
		return data, err
	}
	// Kept open with the mapping where it can be, for direct reads.
	registerFileMapping(data, f, external)
	return data, nil
}

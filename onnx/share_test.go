package onnx

import (
	"bytes"
	"io"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// countedPayload is bytesPayload that counts the times it is made and
// says whether it is costly (CostlyPayload).
type countedPayload struct {
	bytesPayload
	costly bool
	made   *atomic.Int64
}

func (p countedPayload) WriteTo(w io.Writer) (int64, error) {
	p.made.Add(1)
	return p.bytesPayload.WriteTo(w)
}

func (p countedPayload) Costly() bool { return p.costly }

// TestShareLazy: with ShareLazy, the save and a reader (ReadInto) make
// each costly payload once between them, whichever comes first, as long as
// the copies fit the budget; a payload past the budget, or not costly, is
// made by each. Both get the payload's bytes; stop drops the copies not
// taken. Run concurrently, every byte is right and no payload is made more
// than twice.
func TestShareLazy(t *testing.T) {
	const n, size = 6, 3*LazyMin + 20
	build := func(costly bool) (*Model, *atomic.Int64, [][]byte) {
		made := new(atomic.Int64)
		g := &Graph{Name: "g"}
		m := &Model{IRVersion: 8, Opsets: []OpsetID{{Version: 17}}, Graph: g}
		var want [][]byte
		for i := range n {
			raw := make([]byte, size)
			for k := range raw {
				raw[k] = byte(k*13 + i*7)
			}
			want = append(want, raw)
			name := "t" + strconv.Itoa(i)
			tn := NewLazyTensor(name, Uint8, []int64{size}, countedPayload{bytesPayload(raw), costly, made})
			g.Outputs = append(g.Outputs, g.AddInitializer(name, tn))
		}
		return m, made, want
	}
	dir := t.TempDir()
	check := func(name string, m *Model, want [][]byte, path string) {
		t.Helper()
		got, err := Load(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i, v := range got.Graph.Initializers {
			if b, err := v.Const.Data(); err != nil || !bytes.Equal(b, want[i]) {
				t.Errorf("%s: the saved %s differs from its payload (%v)", name, v.Name, err)
			}
		}
	}
	read := func(name string, m *Model, want [][]byte) {
		t.Helper()
		for i, v := range m.Graph.Initializers {
			b, err := v.Const.ReadInto(make([]byte, size))
			if err != nil || !bytes.Equal(b, want[i]) {
				t.Fatalf("%s: ReadInto of %s gave other bytes (%v)", name, v.Name, err)
			}
			if !v.Const.IsLazy() {
				t.Fatalf("%s: ReadInto kept %s's bytes", name, v.Name)
			}
		}
	}
	for _, tc := range []struct {
		name        string
		costly      bool
		budget      int64
		readerFirst bool
		made        int64
		readTwice   bool
	}{
		{"reader first", true, 1 << 30, true, n, false},
		{"save first", true, 1 << 30, false, n, false},
		{"reader first, budget of one", true, size, true, 2*n - 1, false},
		{"save first, budget of one", true, size, false, 2*n - 1, false},
		{"no budget", true, 0, true, 2 * n, false},
		// The second read makes them again and keeps no second copy.
		{"reader reads twice", true, 2 * n * size, true, 2 * n, true},
		{"not costly", false, 1 << 30, true, 2 * n, false},
	} {
		m, made, want := build(tc.costly)
		stop := m.ShareLazy(tc.budget)
		path := filepath.Join(dir, strconv.Itoa(len(tc.name))+tc.name[:4]+".onnx")
		if tc.readerFirst {
			read(tc.name, m, want)
			if tc.readTwice {
				read(tc.name, m, want)
			}
		}
		if err := Save(m, path, SaveOptions{ExternalData: true}); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !tc.readerFirst {
			read(tc.name, m, want)
		}
		if got := made.Load(); got != tc.made {
			t.Errorf("%s: payloads made %d times, want %d", tc.name, got, tc.made)
		}
		check(tc.name, m, want, path)
		if s := m.Graph.Initializers[0].Const.lazy.share; s != nil && s.held > n*size {
			t.Errorf("%s: %d bytes held for %d payloads of %d", tc.name, s.held, n, size)
		}
		stop()
		for _, v := range m.Graph.Initializers {
			if v.Const.lazy.memo != nil || v.Const.lazy.share != nil {
				t.Errorf("%s: %s still shares or holds a copy after stop", tc.name, v.Name)
			}
		}
	}

	// Concurrently, as the CLI runs them.
	for round := range 5 {
		m, made, want := build(true)
		stop := m.ShareLazy(2 * size)
		path := filepath.Join(dir, "concurrent"+strconv.Itoa(round)+".onnx")
		var wg sync.WaitGroup
		wg.Go(func() { read("concurrent", m, want) })
		if err := Save(m, path, SaveOptions{ExternalData: true}); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		stop()
		if got := made.Load(); got < n || got > 2*n {
			t.Errorf("concurrent: payloads made %d times, want %d to %d", got, n, 2*n)
		}
		check("concurrent", m, want, path)
	}
}

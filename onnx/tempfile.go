package onnx

import (
	"os"
	"path/filepath"
)

// tempFile is an output file being written unseen in its folder; commit
// puts it in place under its name, abort drops it. Where the system allows
// (Linux's O_TMPFILE) the file has no name at all until commit, so a
// process killed mid-write (kill -9) leaves nothing behind; elsewhere it
// has a hidden temporary name (".NAME.tmp…") until then.
type tempFile struct {
	f    *os.File
	path string // where commit puts it
	anon bool   // f has no name yet
}

func createTemp(path string) (*tempFile, error) {
	if f, err := openAnonymous(filepath.Dir(path)); err == nil {
		return &tempFile{f: f, path: path, anon: true}, nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, err
	}
	return &tempFile{f: f, path: path}, nil
}

// commit closes the file and gives it its name. No fsync: the rename
// already keeps readers from ever seeing a partial file, and syncing a
// large model costs more than the whole pipeline.
func (t *tempFile) commit() error {
	if err := t.f.Chmod(0o644); err != nil {
		t.abort()
		return err
	}
	name := t.f.Name()
	if t.anon {
		// Link under a temporary name (linkat cannot replace a file),
		// then rename over the target.
		tmp, err := linkAnonymous(t.f, filepath.Dir(t.path), "."+filepath.Base(t.path)+".tmp")
		if err != nil {
			t.abort()
			return err
		}
		name = tmp
	}
	if err := t.f.Close(); err != nil {
		os.Remove(name)
		return err
	}
	if err := os.Rename(name, t.path); err != nil {
		os.Remove(name)
		return err
	}
	return nil
}

// abort drops the file.
func (t *tempFile) abort() {
	t.f.Close()
	if !t.anon {
		os.Remove(t.f.Name())
	}
}

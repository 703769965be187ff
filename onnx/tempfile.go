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
	// link: f is an input's data file, which commit links at path (where
	// path is not that file already) instead of writing a copy; f is
	// neither changed nor closed.
	link bool
}

// linkTemp prepares a hard link to src at path, made by commit.
func linkTemp(src *os.File, path string) *tempFile {
	return &tempFile{f: src, path: path, link: true}
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
	if t.link {
		return t.commitLink()
	}
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

// commitLink links t.f at t.path through a temporary name, as commit
// does a file it wrote; nothing when t.path is t.f already (a rename onto
// another link of the same file would leave the temporary name behind).
func (t *tempFile) commitLink() error {
	if st, err := os.Stat(t.path); err == nil {
		if src, err := t.f.Stat(); err == nil && os.SameFile(st, src) {
			return nil
		}
	}
	tmp, err := linkAnonymous(t.f, filepath.Dir(t.path), "."+filepath.Base(t.path)+".tmp")
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, t.path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// abort drops the file.
func (t *tempFile) abort() {
	if t.link {
		return // nothing made yet
	}
	t.f.Close()
	if !t.anon {
		os.Remove(t.f.Name())
	}
}

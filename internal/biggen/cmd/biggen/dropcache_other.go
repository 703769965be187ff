//go:build !linux

package main

import "errors"

// dropCache needs posix_fadvise, which only the Linux build uses.
func dropCache(path string) error {
	return errors.New(path + ": dropping a file from the page cache is only supported on Linux")
}

//go:build unix

package main

import (
	"os"
	"syscall"
)

// hardLinks is the number of names fi's file has (1 where unknown).
func hardLinks(fi os.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Nlink)
	}
	return 1
}

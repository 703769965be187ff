// Command biggen writes a generated decoder-only transformer with external
// data (see package biggen), for `make big`:
//
//	go run ./internal/biggen/cmd/biggen -bytes 8GiB -o DIR
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/onnxslim/onnxslim/internal/biggen"
)

func main() {
	size := flag.String("bytes", "2.5GiB", "weight bytes (suffix KiB, MiB or GiB)")
	dir := flag.String("o", ".", "output folder")
	name := flag.String("name", "model.onnx", "model file name (weights go to NAME.data)")
	evict := flag.Bool("evict", false, "instead: drop the files named as arguments from the page cache (posix_fadvise DONTNEED), for cold-cache timings")
	flag.Parse()
	if *evict {
		for _, p := range flag.Args() {
			if err := dropCache(p); err != nil {
				fmt.Fprintf(os.Stderr, "biggen: %s: %v\n", p, err)
				os.Exit(1)
			}
		}
		return
	}
	n, err := parseBytes(*size)
	if err != nil {
		fmt.Fprintf(os.Stderr, "biggen: -bytes %q: %v\n", *size, err)
		os.Exit(2)
	}
	cfg := biggen.ForBytes(n)
	path, data, err := biggen.Write(*dir, *name, cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "biggen: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%s: %d layers, width %d, %d parameters, %d bytes of external data\n", path, cfg.Layers, cfg.Width, cfg.Params(), data)
}

func parseBytes(s string) (int64, error) {
	mult := 1.0
	for _, u := range []struct {
		suffix string
		mult   float64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("not a size")
	}
	return int64(f * mult), nil
}

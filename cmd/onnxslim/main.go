// Command onnxslim makes ONNX models smaller and faster and checks that the
// result still computes the same. README.md summarises the command-line contract.
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args, os.Stdout, os.Stderr))
}

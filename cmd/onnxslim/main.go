// Command onnxslim makes ONNX models smaller and faster and checks that the
// result still computes the same. See README.md and docs/cli.md for the contract.
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args, os.Stdout, os.Stderr))
}

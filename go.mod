module github.com/onnxslim/onnxslim

go 1.26.8

require (
	github.com/urfave/cli/v3 v3.14.0
	google.golang.org/protobuf v1.36.12
)

package testmodels

import (
	"os"
	"testing"

	"github.com/onnxslim/onnxslim/onnx"
)

func TestSaveForManualRun(t *testing.T) {
	dir := os.Getenv("ONNXSLIM_SAVE_PLUGIN")
	if dir == "" {
		t.Skip("set ONNXSLIM_SAVE_PLUGIN=DIR to write the plugin models")
	}
	for name, o := range map[string]PluginOptions{"plugin.onnx": {}, "plugin_noshape.onnx": {NoPluginShape: true}} {
		if err := onnx.Save(Plugin(o), dir+"/"+name, onnx.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

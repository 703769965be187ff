// Package browser opens pages in headless Chromium (Debian's chromium,
// installed by `make chromium`) through chromedp, for tests of the HTML
// reports. Tests call New: without Chromium they skip with a message, and
// under CI=true they fail, so CI never passes by skipping.
package browser

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/onnxslim/onnxslim/internal/testdata"
)

// Path returns the Chromium binary: $ONNXSLIM_CHROMIUM, else chromium or
// chromium-browser on PATH; "" when there is none.
func Path() string {
	if p := os.Getenv("ONNXSLIM_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Browser is one headless Chromium with a fresh profile; its console errors
// and uncaught exceptions are collected.
type Browser struct {
	Ctx    context.Context
	mu     sync.Mutex
	errors []string
}

// New starts Chromium for the test (closed at its end), or skips the test
// when Chromium is missing (fails under CI=true).
func New(t testing.TB) *Browser {
	t.Helper()
	path := Path()
	if path == "" {
		testdata.Missing(t, "Chromium is not installed (run `make chromium`, i.e. apt-get install chromium, or set ONNXSLIM_CHROMIUM)")
	}
	// No network, no background services, a throwaway profile.
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	b := &Browser{Ctx: ctx}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium %s: %v", path, err)
	}
	// Listen's function must not block: it only appends under a lock.
	err := chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				b.addError("console." + string(e.Type) + ": " + strings.Join(parts, " "))
			}
		case *runtime.EventExceptionThrown:
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
			b.addError(fmt.Sprintf("exception at %d:%d: %s", e.ExceptionDetails.LineNumber, e.ExceptionDetails.ColumnNumber, msg))
		}
	})
	if err != nil {
		t.Fatalf("listening to Chromium's console: %v", err)
	}
	return b
}

func (b *Browser) addError(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errors = append(b.errors, s)
}

// Errors returns the console errors and uncaught exceptions so far.
func (b *Browser) Errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// Do runs chromedp actions in the browser's tab.
func (b *Browser) Do(actions ...chromedp.Action[chromedp.Void]) error {
	return chromedp.Do(b.Ctx, actions...)
}

// Eval evaluates a JavaScript expression in the page and decodes its value.
func Eval[T any](b *Browser, expr string) (T, error) {
	return chromedp.Run(b.Ctx, chromedp.Evaluate[T](expr))
}

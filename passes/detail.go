package passes

import "context"

// detailKey keys the detail sink in a pipeline's context.Context.
type detailKey struct{}

// DetailFunc receives a structured result of a pass (e.g. quantize's
// per-layer error report) so that the CLI can put it in --json.
type DetailFunc func(pass string, detail any)

// WithDetails returns a context whose passes hand their structured results to
// f. Pipeline.Run passes ctx on to every pass's Context.
func WithDetails(ctx context.Context, f DetailFunc) context.Context {
	return context.WithValue(ctx, detailKey{}, f)
}

// Detail hands a structured result of the running pass to the function
// installed with WithDetails; without one it is dropped.
func (c *Context) Detail(v any) {
	if c.Context == nil {
		return
	}
	if f, ok := c.Value(detailKey{}).(DetailFunc); ok && f != nil {
		f(c.Pass.Name, v)
	}
}

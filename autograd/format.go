package autograd

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// printThreshold is the element count above which String summarises with
// "..." as PyTorch does.
const printThreshold = 1000

// String prints the tensor the way PyTorch does: nested brackets, a common
// number format, summarised with ... beyond 1000 elements, followed by the
// graph function or requires_grad flag and the device when not the CPU.
func (t *Tensor) String() string {
	data := t.Data()
	base := chooseFormat(data)
	width := 0
	for _, v := range data {
		width = max(width, len(base(v)))
	}
	f := func(v float32) string {
		s := base(v)
		return strings.Repeat(" ", width-len(s)) + s
	}
	var b strings.Builder
	b.WriteString("tensor(")
	if len(t.shape) == 0 {
		b.WriteString(f(data[0]))
	} else if t.Numel() == 0 {
		b.WriteString("[]")
	} else {
		summarise := len(data) > printThreshold
		writeNested(&b, data, t.shape, contiguousStrides(t.shape), 0, 0, f, summarise, 7)
	}
	if t.Numel() == 0 && len(t.shape) > 1 {
		fmt.Fprintf(&b, ", size=%v", t.shape)
	}
	if t.dev != CPU {
		fmt.Fprintf(&b, ", device='%s'", t.dev.Name())
	}
	switch {
	case t.node != nil:
		fmt.Fprintf(&b, ", grad_fn=<%sBackward>", t.node.op)
	case t.requiresGrad:
		b.WriteString(", requires_grad=True")
	}
	b.WriteString(")")
	return b.String()
}

func writeNested(b *strings.Builder, data []float32, shape, strides []int, dim, off int, f func(float32) string, summarise bool, indent int) {
	n := shape[dim]
	b.WriteString("[")
	edge := 3
	for i := 0; i < n; i++ {
		if summarise && n > 2*edge && i == edge {
			b.WriteString("...")
			i = n - edge
			writeSep(b, dim, len(shape), indent)
		}
		if dim == len(shape)-1 {
			b.WriteString(f(data[off+i*strides[dim]]))
		} else {
			writeNested(b, data, shape, strides, dim+1, off+i*strides[dim], f, summarise, indent+1)
		}
		if i < n-1 {
			writeSep(b, dim, len(shape), indent)
		}
	}
	b.WriteString("]")
}

func writeSep(b *strings.Builder, dim, rank, indent int) {
	if dim == rank-1 {
		b.WriteString(", ")
		return
	}
	b.WriteString(",")
	b.WriteString(strings.Repeat("\n", rank-1-dim))
	b.WriteString(strings.Repeat(" ", indent+1))
}

// chooseFormat picks PyTorch's style: integers print as "1.", otherwise a
// fixed 4-decimal format, or scientific when magnitudes are extreme.
func chooseFormat(data []float32) func(float32) string {
	allInt := true
	maxAbs, minAbs := 0.0, math.Inf(1)
	for _, v := range data {
		x := float64(v)
		if math.IsNaN(x) || math.IsInf(x, 0) {
			continue
		}
		if x != math.Trunc(x) {
			allInt = false
		}
		a := math.Abs(x)
		maxAbs = math.Max(maxAbs, a)
		if a > 0 {
			minAbs = math.Min(minAbs, a)
		}
	}
	special := func(v float32) (string, bool) {
		x := float64(v)
		switch {
		case math.IsNaN(x):
			return "nan", true
		case math.IsInf(x, 1):
			return "inf", true
		case math.IsInf(x, -1):
			return "-inf", true
		}
		return "", false
	}
	if allInt && maxAbs < 1e8 {
		return func(v float32) string {
			if s, ok := special(v); ok {
				return s
			}
			return strconv.FormatFloat(float64(v), 'f', 0, 32) + "."
		}
	}
	if maxAbs >= 1e8 || (minAbs < 1e-4 && minAbs > 0) || (maxAbs > 0 && maxAbs/minAbs > 1e3 && minAbs < 1e-2) {
		return func(v float32) string {
			if s, ok := special(v); ok {
				return s
			}
			return strconv.FormatFloat(float64(v), 'e', 4, 32)
		}
	}
	return func(v float32) string {
		if s, ok := special(v); ok {
			return s
		}
		return strconv.FormatFloat(float64(v), 'f', 4, 32)
	}
}

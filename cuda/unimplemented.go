package cuda

import "github.com/deepgo/deepgo/autograd"

// notImplemented panics for a Device method the CUDA device lacks, naming
// it, so that a model that needs it fails at once and clearly. Every
// method has a kernel at present; the helper stays for the next method
// autograd.Device grows.
func notImplemented(method string) {
	panic("cuda: " + method + " is not implemented yet; run this op on autograd.CPU for now")
}

// The compiler checks that GPU implements the whole contract.
var _ autograd.Device = (*GPU)(nil)

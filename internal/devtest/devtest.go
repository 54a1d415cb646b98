// Package devtest runs a test on every device registered with autograd, so
// that no kernel is tested on one device only. Backends register their
// devices when imported; a test file that imports a backend (for example
// deepgo/cuda) makes Each cover it too.
package devtest

import (
	"testing"

	"github.com/deepgo/deepgo/autograd"
)

// Each runs fn as a subtest named after each registered device ("cpu",
// "cuda:0", ...). Tests build their inputs on the CPU and move them with
// To(dev); results are compared on the host with Data().
func Each(t *testing.T, fn func(t *testing.T, dev autograd.Device)) {
	t.Helper()
	for _, name := range autograd.Devices() {
		dev, err := autograd.DeviceByName(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) { fn(t, dev) })
	}
}

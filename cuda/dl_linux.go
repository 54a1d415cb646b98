//go:build linux

package cuda

import "github.com/ebitengine/purego"

// dlopen loads a shared library with RTLD_NOW|RTLD_GLOBAL (GLOBAL so that
// a library loaded first, such as cuBLAS's libcublasLt, satisfies the
// dependencies of the next).
func dlopen(path string) (uintptr, error) {
	return purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
}

// dlsym returns the address of a symbol of a loaded library.
func dlsym(handle uintptr, name string) (uintptr, error) {
	return purego.Dlsym(handle, name)
}

// platformSupported is nil where the CUDA device can work.
var platformSupported error

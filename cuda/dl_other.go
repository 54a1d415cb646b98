//go:build !linux

package cuda

import "errors"

// platformSupported explains why the CUDA device cannot work here.
var platformSupported = errors.New("cuda: the CUDA device is supported on Linux only (it loads libcuda.so.1 at run time)")

func dlopen(path string) (uintptr, error) { return 0, platformSupported }

func dlsym(handle uintptr, name string) (uintptr, error) { return 0, platformSupported }

package cuda

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/deepgo/deepgo/autograd"
)

// EmulateEnv names the environment variable that turns on the tests that
// run the kernels on the host CUDA emulator of testdata/emu: the kernel
// sources are compiled with g++ instead of NVRTC and run with one fiber
// per GPU thread, behind a fake libcuda.so.1, libnvrtc and libcublas that
// the cuda package loads through purego exactly as it loads the real ones.
// It checks the whole host side and the logic of every kernel without a
// GPU; it takes a minute, so it is off by default.
const EmulateEnv = "DEEPGO_CUDA_EMULATE"

var emu struct {
	once sync.Once
	dir  string
	gpu  *GPU
	err  error
}

// emulatorGPU returns a GPU backed by the emulator, building it on first
// use, or skips the test.
func emulatorGPU(t *testing.T) *GPU {
	t.Helper()
	if os.Getenv(EmulateEnv) == "" {
		t.Skipf("set %s=1 to run the kernels on the host CUDA emulator (needs g++)", EmulateEnv)
	}
	if runtime.GOOS != "linux" {
		t.Skip("the CUDA emulator is built for Linux")
	}
	if _, err := exec.LookPath("g++"); err != nil {
		t.Skip("g++ is not installed, so the CUDA emulator cannot be built")
	}
	emu.once.Do(func() {
		emu.dir, emu.err = os.MkdirTemp("", "deepgo-cuda-emu-")
		if emu.err != nil {
			return
		}
		out, err := exec.Command("sh", filepath.Join("testdata", "emu", "build.sh"), emu.dir).CombinedOutput()
		if err != nil {
			emu.err = &buildError{string(out), err}
			return
		}
		sp := searchPath{dirs: []string{emu.dir}}
		drv, err := openDriver(sp)
		if err != nil {
			emu.err = err
			return
		}
		g := newGPU(0, drv, sp, &imageCache{mem: map[string][]byte{}})
		if err := g.init(); err != nil {
			emu.err = err
			return
		}
		emu.gpu = g
	})
	require.NoError(t, emu.err)
	return emu.gpu
}

// TestMain removes the emulator's folder (its libraries and compiled
// modules) after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if emu.dir != "" {
		os.RemoveAll(emu.dir)
	}
	os.Exit(code)
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string {
	return "building the CUDA emulator: " + e.err.Error() + "\n" + e.out
}

// testDevices returns the CUDA devices the conformance tests run on: the
// registered GPUs, and the emulator when EmulateEnv is set.
func testDevices(t *testing.T) map[string]autograd.Device {
	devs := map[string]autograd.Device{}
	if n, err := DeviceCount(); err == nil {
		for i := 0; i < n; i++ {
			d, err := Open(i)
			require.NoError(t, err)
			devs[d.Name()] = d
		}
	}
	if os.Getenv(EmulateEnv) != "" {
		devs["emulator"] = emulatorGPU(t)
	}
	if len(devs) == 0 {
		t.Skipf("no CUDA device (%v) and %s is not set", Available(), EmulateEnv)
	}
	return devs
}

// eachDevice runs fn as a subtest on every test device.
func eachDevice(t *testing.T, fn func(t *testing.T, dev autograd.Device)) {
	for name, d := range testDevices(t) {
		t.Run(name, func(t *testing.T) { fn(t, d) })
	}
}

func TestEmulatorInfo(t *testing.T) {
	g := emulatorGPU(t)
	require.Equal(t, "deepgo CUDA emulator", g.Product())
	ma, mi := g.ComputeCapability()
	require.Equal(t, 8, ma)
	require.Equal(t, 0, mi)
	require.NoError(t, g.Synchronize())
}

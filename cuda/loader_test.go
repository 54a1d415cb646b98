package cuda

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeDriverSource is a libcuda.so.1 that exports only the calls made
// before a device is opened, each returning what the -D flags choose.
const fakeDriverSource = `
#ifndef INIT_RESULT
#define INIT_RESULT 0
#endif
#ifndef DEVICE_COUNT
#define DEVICE_COUNT 1
#endif
typedef int CUresult;
CUresult cuInit(unsigned flags) { return INIT_RESULT; }
CUresult cuDriverGetVersion(int* v) { *v = 13000; return 0; }
CUresult cuDeviceGetCount(int* n) { *n = DEVICE_COUNT; return 0; }
static const char* name(CUresult e) {
	switch (e) {
	case 100: return "CUDA_ERROR_NO_DEVICE";
	case 999: return "CUDA_ERROR_UNKNOWN";
	}
	return 0;
}
CUresult cuGetErrorName(CUresult e, const char** s) { *s = name(e); return *s ? 0 : 1; }
CUresult cuGetErrorString(CUresult e, const char** s) {
	*s = e == 100 ? "no CUDA-capable device is detected" : 0;
	return *s ? 0 : 1;
}
`

// buildFake compiles fakeDriverSource with the given -D flags into a new
// folder as libcuda.so.1 and returns the folder.
func buildFake(t *testing.T, defines ...string) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the fake driver is a Linux shared object")
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc is not installed, so the fake libcuda.so.1 cannot be built")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "fake.c")
	require.NoError(t, os.WriteFile(src, []byte(fakeDriverSource), 0o644))
	args := append([]string{"-shared", "-fPIC", "-o", filepath.Join(dir, "libcuda.so.1")}, defines...)
	out, err := exec.Command(gcc, append(args, src)...).CombinedOutput()
	require.NoErrorf(t, err, "gcc: %s", out)
	return dir
}

func TestSplitPath(t *testing.T) {
	require.Equal(t, []string{"/a", "/b c", "/d"}, splitPath("/a:: /b c :/d:"))
	require.Nil(t, splitPath(""))
}

func TestMissingLibrary(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("library loading is tested on Linux")
	}
	empty := t.TempDir()
	_, err := openDriver(searchPath{dirs: []string{empty}})
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{"libcuda.so.1", PathEnv, empty, "Install the NVIDIA driver"} {
		require.Containsf(t, msg, want, "error %q", msg)
	}

	_, err = openDriver(searchPath{})
	require.ErrorContains(t, err, "libcuda.so.1")
	require.ErrorContains(t, err, PathEnv)
}

func TestLibraryWithoutSymbols(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("library loading is tested on Linux")
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc is not installed")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "empty.c")
	require.NoError(t, os.WriteFile(src, []byte("int deepgo_nothing;\n"), 0o644))
	out, err := exec.Command(gcc, "-shared", "-fPIC", "-o", filepath.Join(dir, "libcuda.so.1"), src).CombinedOutput()
	require.NoErrorf(t, err, "gcc: %s", out)
	_, err = openDriver(searchPath{dirs: []string{dir}})
	require.ErrorContains(t, err, "lacks cuInit")
	require.ErrorContains(t, err, filepath.Join(dir, "libcuda.so.1"))
}

func TestInitFailure(t *testing.T) {
	dir := buildFake(t, "-DINIT_RESULT=100")
	_, err := openDriver(searchPath{dirs: []string{dir}})
	require.Error(t, err)
	var ce *Error
	require.True(t, errors.As(err, &ce), "want a *cuda.Error, got %T: %v", err, err)
	require.Equal(t, "cuInit", ce.Call)
	require.Equal(t, 100, ce.Code)
	require.Equal(t, "CUDA_ERROR_NO_DEVICE", ce.Name)
	msg := err.Error()
	for _, want := range []string{"cuInit", "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected", "nvidia-smi", dir} {
		require.Containsf(t, msg, want, "error %q", msg)
	}
}

func TestUnnamedError(t *testing.T) {
	dir := buildFake(t, "-DINIT_RESULT=12345")
	_, err := openDriver(searchPath{dirs: []string{dir}})
	require.ErrorContains(t, err, "cuInit failed: error 12345")
}

func TestZeroDevices(t *testing.T) {
	dir := buildFake(t, "-DDEVICE_COUNT=0")
	drv, err := openDriver(searchPath{dirs: []string{dir}})
	require.NoError(t, err)
	require.Equal(t, "13.0", drv.versionString())
	n, err := drv.count()
	require.NoError(t, err)
	require.Zero(t, n)
	msg := noDeviceError(drv).Error()
	for _, want := range []string{"no CUDA device", "13.0", dir, "CUDA_VISIBLE_DEVICES"} {
		require.Containsf(t, msg, want, "error %q", msg)
	}
}

func TestDriverWithoutDeviceCalls(t *testing.T) {
	// The fake has the calls to count devices but not those to open one.
	dir := buildFake(t, "-DDEVICE_COUNT=2")
	drv, err := openDriver(searchPath{dirs: []string{dir}})
	require.NoError(t, err)
	n, err := drv.count()
	require.NoError(t, err)
	require.Equal(t, 2, n)
	g := newGPU(1, drv, searchPath{dirs: []string{dir}}, &imageCache{mem: map[string][]byte{}})
	err = g.init()
	require.ErrorContains(t, err, "lacks cuDeviceGet")
	require.ErrorContains(t, err, "too old")
	require.PanicsWithError(t, err.Error()+" (cuda:1 cannot be used)", func() { g.Alloc(4) })
}

// TestAvailableFromEnvironment runs the package's own Available, which
// reads DEEPGO_CUDA_PATH once per process, in a child test process.
func TestAvailableFromEnvironment(t *testing.T) {
	if os.Getenv("DEEPGO_CUDA_CHILD") != "" {
		err := Available()
		n, cerr := DeviceCount()
		if err == nil {
			t.Logf("available with %d devices", n)
			return
		}
		t.Logf("count=%d counterr=%v", n, cerr)
		t.Fatal(err)
	}
	dir := buildFake(t, "-DINIT_RESULT=100")
	cmd := exec.Command(os.Args[0], "-test.run=^TestAvailableFromEnvironment$", "-test.v")
	cmd.Env = append(os.Environ(), "DEEPGO_CUDA_CHILD=1", PathEnv+"="+dir, DisableEnv+"=1")
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "the child should fail: %s", out)
	require.Contains(t, string(out), "CUDA_ERROR_NO_DEVICE")
	require.Contains(t, string(out), filepath.Join(dir, "libcuda.so.1"))
	require.Contains(t, string(out), "counterr=cuda: cuInit failed")
}

func TestAvailableHere(t *testing.T) {
	// Whatever this machine has, Available and DeviceCount agree.
	err := Available()
	n, cerr := DeviceCount()
	if err == nil {
		require.NoError(t, cerr)
		require.Positive(t, n)
		return
	}
	t.Logf("no CUDA here: %v", err)
	if cerr == nil {
		require.Zero(t, n)
	}
	require.True(t, strings.HasPrefix(err.Error(), "cuda: "), err.Error())
	_, oerr := Open(0)
	require.Error(t, oerr)
	require.Panics(t, func() { Device(0) })
}

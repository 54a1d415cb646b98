package cuda

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/deepgo/deepgo/autograd"
)

func TestOpTablesComplete(t *testing.T) {
	ops := allUnaryOps()
	require.Greater(t, len(ops), 20)
	for _, op := range ops {
		require.NotEmptyf(t, unaryForward[op], "unary op %v has no CUDA form", op)
		require.NotEmptyf(t, unaryGrad[op], "unary op %v has no CUDA derivative", op)
	}
	require.Len(t, unaryForward, len(ops))
	require.Len(t, unaryGrad, len(ops))
	bops := allBinaryOps()
	for _, op := range bops {
		require.NotEmptyf(t, binaryForms[op], "binary op %v has no CUDA form", op)
	}
	require.Len(t, binaryForms, len(bops))

	src := elementwiseSource()
	for _, op := range ops {
		require.Contains(t, src, "case "+strconv.Itoa(int(op))+": return "+unaryForward[op]+";")
	}
}

var kernelDecl = regexp.MustCompile(`extern "C" __global__ void (\w+)\(`)

func TestModulesDeclareTheirKernels(t *testing.T) {
	seen := map[string]string{}
	for _, m := range allModules {
		var found []string
		for _, s := range kernelDecl.FindAllStringSubmatch(m.fullSource(), -1) {
			found = append(found, s[1])
		}
		require.ElementsMatchf(t, m.kernels, found, "module %s lists %v but defines %v", m.name, m.kernels, found)
		for _, k := range m.kernels {
			require.Emptyf(t, seen[k], "kernel %s in modules %s and %s", k, seen[k], m.name)
			seen[k] = m.name
		}
	}
}

// TestSourcesBalanced is a cheap syntax check of the generated sources
// (the emulator test compiles them for real).
func TestSourcesBalanced(t *testing.T) {
	for _, m := range allModules {
		src := m.fullSource()
		for _, pair := range []string{"()", "{}", "[]"} {
			require.Equalf(t, strings.Count(src, pair[:1]), strings.Count(src, pair[1:]), "module %s: %s unbalanced", m.name, pair)
		}
		require.NotContains(t, src, "`")
	}
}

func TestMakeGeo(t *testing.T) {
	// A contiguous operand and a broadcast row over [3, 4, 5]: the first
	// two dimensions merge for both operands only if both allow it.
	g := makeGeo([]int{3, 4, 5}, [][]int{{20, 5, 1}, {0, 0, 1}}, []int{0, 7})
	require.EqualValues(t, 2, g.ndim)
	require.EqualValues(t, 60, g.total)
	require.Equal(t, [2]int64{5, 12}, [2]int64{g.n[0], g.n[1]}, "innermost first")
	require.Equal(t, [2]int64{1, 5}, [2]int64{g.st[0][0], g.st[0][1]})
	require.Equal(t, [2]int64{1, 0}, [2]int64{g.st[1][0], g.st[1][1]})
	require.EqualValues(t, 7, g.off[1])

	// Contiguous everywhere: one dimension.
	g = makeGeo([]int{2, 3, 4}, [][]int{{12, 4, 1}, {12, 4, 1}}, []int{0, 0})
	require.EqualValues(t, 1, g.ndim)
	require.EqualValues(t, 24, g.n[0])

	// Size-1 dimensions vanish; a scalar has none.
	g = makeGeo([]int{1, 6, 1}, [][]int{{6, 1, 1}, {0, 1, 0}}, []int{0, 0})
	require.EqualValues(t, 1, g.ndim)
	g = makeGeo([]int{}, [][]int{{}, {}}, []int{0, 3})
	require.EqualValues(t, 0, g.ndim)
	require.EqualValues(t, 1, g.total)

	// A transpose cannot merge.
	g = makeGeo([]int{3, 4}, [][]int{{4, 1}, {1, 3}}, []int{0, 0})
	require.EqualValues(t, 2, g.ndim)

	require.Panics(t, func() {
		shape := make([]int, 18)
		st := make([]int, 18)
		for i := range shape {
			shape[i] = 2
			st[i] = 1 << (2 * i) // never mergeable
		}
		makeGeo(shape, [][]int{st}, []int{0})
	})
}

func TestGeoMatchesKernelStruct(t *testing.T) {
	// struct dg_geo: n[16], st[4][16], off[4], ndim, total, all long long.
	require.EqualValues(t, 8*(16+64+4+2), unsafe.Sizeof(geo{}))
	require.EqualValues(t, 16*8, unsafe.Offsetof(geo{}.st))
	require.EqualValues(t, 80*8, unsafe.Offsetof(geo{}.off))
	require.EqualValues(t, 84*8, unsafe.Offsetof(geo{}.ndim))
	require.Contains(t, kernelHeader, "i64 n[DG_MAXD];\n\ti64 st[4][DG_MAXD];\n\ti64 off[4];\n\ti64 ndim;\n\ti64 total;")
	require.Equal(t, maxDims, autograd.MaxDims, "a tensor of any rank fits dg_geo")
}

func TestArgList(t *testing.T) {
	var a argList
	a.reset().i32(-3).f32(1.5).i64(1 << 40).ptr(0xdead0000)
	gm := makeGeo([]int{2, 3}, [][]int{{3, 1}, {1, 2}}, []int{0, 5})
	a.geo(gm)
	require.Equal(t, 5, a.np)
	// params[i] points at the i-th argument's first word.
	at := func(w int) uintptr { return uintptr(unsafe.Pointer(&a.words[w])) }
	require.Equal(t, []uintptr{at(0), at(1), at(2), at(3), at(4)}, a.params[:5])
	require.Equal(t, uint64(0xfffffffd), a.words[0], "an int is the low 4 bytes")
	require.Equal(t, uint64(0x3fc00000), a.words[1])
	require.Equal(t, uint64(1<<40), a.words[2])
	require.Equal(t, uint64(0xdead0000), a.words[3])
	const n = int(unsafe.Sizeof(geo{}) / 8)
	require.Equal(t, (*[n]uint64)(unsafe.Pointer(gm))[:], a.words[4:4+n])
	require.Equal(t, 4+n, a.nw)
	a.reset()
	require.Zero(t, a.np)
}

func TestPickTarget(t *testing.T) {
	archs := []int{75, 80, 86, 89, 90, 100}
	opt, cubin, ok := pickTarget(90, archs, true)
	require.True(t, ok)
	require.True(t, cubin)
	require.Equal(t, "--gpu-architecture=sm_90", opt)
	opt, cubin, ok = pickTarget(90, archs, false)
	require.True(t, ok && !cubin)
	require.Equal(t, "--gpu-architecture=compute_90", opt)
	// A GPU newer than NVRTC: PTX for the newest older architecture.
	opt, cubin, ok = pickTarget(120, archs, true)
	require.True(t, ok && !cubin)
	require.Equal(t, "--gpu-architecture=compute_100", opt)
	// Older than anything NVRTC supports.
	_, _, ok = pickTarget(50, archs, true)
	require.False(t, ok)
	// NVRTC that cannot list its targets: trust it.
	opt, _, ok = pickTarget(87, nil, true)
	require.True(t, ok)
	require.Equal(t, "--gpu-architecture=sm_87", opt)
}

func TestImageCache(t *testing.T) {
	dir := t.TempDir()
	c := &imageCache{mem: map[string][]byte{}, dir: dir}
	k := cacheKey("nvrtc 13.0", "opts", "src")
	require.Len(t, k, 64)
	require.NotEqual(t, k, cacheKey("nvrtc 13.0", "opts", "src2"))
	require.NotEqual(t, cacheKey("ab", "c"), cacheKey("a", "bc"))
	require.Nil(t, c.get(k))
	c.put(k, []byte("image"))
	require.Equal(t, []byte("image"), c.get(k))
	// A new process finds it on disk.
	c2 := &imageCache{mem: map[string][]byte{}, dir: dir}
	require.Equal(t, []byte("image"), c2.get(k))
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	require.NoError(t, err)
	require.Len(t, files, 1, "no temporary files left")
	// Without a folder it only remembers in memory.
	c3 := &imageCache{mem: map[string][]byte{}}
	c3.put(k, []byte("x"))
	require.Equal(t, []byte("x"), c3.get(k))

	t.Setenv(CacheEnv, "off")
	require.Empty(t, defaultCacheDir())
	t.Setenv(CacheEnv, dir)
	require.Equal(t, dir, defaultCacheDir())
	require.NoError(t, os.Unsetenv(CacheEnv))
}

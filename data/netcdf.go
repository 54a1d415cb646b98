package data

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"
)

// This file reads NetCDF classic files — the form reanalyses such as ERA5
// are downloaded in: CDF-1 (classic), CDF-2 (64-bit offset) and CDF-5
// (64-bit data), as described in "The NetCDF Classic Format Specification"
// (Unidata). NetCDF-4 files are HDF5 files, which this reader does not
// parse: it says so and how to convert them.

// NetCDFType is the external type of a NetCDF attribute or variable.
type NetCDFType int

// The NetCDF external types (the last five only in CDF-5 files).
const (
	NetCDFByte   NetCDFType = 1
	NetCDFChar   NetCDFType = 2
	NetCDFShort  NetCDFType = 3
	NetCDFInt    NetCDFType = 4
	NetCDFFloat  NetCDFType = 5
	NetCDFDouble NetCDFType = 6
	NetCDFUByte  NetCDFType = 7
	NetCDFUShort NetCDFType = 8
	NetCDFUInt   NetCDFType = 9
	NetCDFInt64  NetCDFType = 10
	NetCDFUInt64 NetCDFType = 11
)

// Size returns the type's size in bytes (0 for an unknown type).
func (t NetCDFType) Size() int {
	switch t {
	case NetCDFByte, NetCDFChar, NetCDFUByte:
		return 1
	case NetCDFShort, NetCDFUShort:
		return 2
	case NetCDFInt, NetCDFFloat, NetCDFUInt:
		return 4
	case NetCDFDouble, NetCDFInt64, NetCDFUInt64:
		return 8
	}
	return 0
}

// String returns the CDL name of the type ("short", "float", ...).
func (t NetCDFType) String() string {
	names := []string{"", "byte", "char", "short", "int", "float", "double", "ubyte", "ushort", "uint", "int64", "uint64"}
	if t >= 1 && int(t) < len(names) {
		return names[t]
	}
	return fmt.Sprintf("NetCDFType(%d)", int(t))
}

// NetCDFDim is a dimension of a NetCDF file.
type NetCDFDim struct {
	Name string
	// Len is the dimension's length; for the record (unlimited)
	// dimension, the number of records.
	Len int
	// Unlimited marks the record dimension.
	Unlimited bool
}

// NetCDFAttr is an attribute of a NetCDF file or variable: Text for a char
// attribute, Values for a numeric one.
type NetCDFAttr struct {
	Name   string
	Type   NetCDFType
	Text   string
	Values []float64
}

// NetCDFVar is a variable of a NetCDF file.
type NetCDFVar struct {
	Name string
	Type NetCDFType
	// Dims are the indices (into NetCDFFile.Dims) of the variable's
	// dimensions, outermost first; Shape their lengths.
	Dims  []int
	Shape []int
	Attrs []NetCDFAttr
	// Record marks a variable along the record dimension (its first).
	Record bool

	begin int64
}

// Attr returns the variable's attribute name and whether it has one.
func (v *NetCDFVar) Attr(name string) (NetCDFAttr, bool) { return findAttr(v.Attrs, name) }

// Len returns the number of values of the variable.
func (v *NetCDFVar) Len() int {
	n := 1
	for _, s := range v.Shape {
		n *= s
	}
	return n
}

func findAttr(as []NetCDFAttr, name string) (NetCDFAttr, bool) {
	for _, a := range as {
		if a.Name == name {
			return a, true
		}
	}
	return NetCDFAttr{}, false
}

// NetCDFFile is an open NetCDF classic file: its header, read by
// OpenNetCDF or ReadNetCDF, and the means to read its variables' data.
type NetCDFFile struct {
	// Version is 1 (classic), 2 (64-bit offset) or 5 (64-bit data).
	Version int
	// NumRecs is the number of records along the record dimension.
	NumRecs int
	// Dims are the dimensions, in the file's order (variables refer to
	// them by index).
	Dims []NetCDFDim
	// Attrs are the global attributes.
	Attrs []NetCDFAttr
	// Vars are the variables, in the file's order.
	Vars []*NetCDFVar

	r       io.ReaderAt
	size    int64
	recSize int64
	closer  io.Closer
	name    string
}

// Attr returns the global attribute name and whether the file has one.
func (f *NetCDFFile) Attr(name string) (NetCDFAttr, bool) { return findAttr(f.Attrs, name) }

// Var returns the variable called name, or nil.
func (f *NetCDFFile) Var(name string) *NetCDFVar {
	for _, v := range f.Vars {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// Close closes the file opened by OpenNetCDF (a no-op for ReadNetCDF's).
func (f *NetCDFFile) Close() error {
	if f.closer != nil {
		return f.closer.Close()
	}
	return nil
}

// hdf5Magic starts a NetCDF-4 (HDF5) file.
var hdf5Magic = []byte("\x89HDF\r\n\x1a\n")

// ErrNetCDF4 is returned (wrapped) for NetCDF-4 files, which are HDF5.
var ErrNetCDF4 = errors.New("NetCDF-4 (HDF5) files are not supported; convert the file to the classic CDF-5 format with `nccopy -k cdf5 in.nc out.nc` (nccopy is in Debian's netcdf-bin)")

// OpenNetCDF opens the NetCDF classic file at path and reads its header.
// Close it when done.
func OpenNetCDF(path string) (*NetCDFFile, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, err
	}
	f, err := readNetCDF(fh, st.Size(), path)
	if err != nil {
		fh.Close()
		return nil, err
	}
	f.closer = fh
	return f, nil
}

// ReadNetCDF reads the header of the NetCDF classic file of size bytes in
// r; the variables' data are read from r on demand.
func ReadNetCDF(r io.ReaderAt, size int64) (*NetCDFFile, error) {
	return readNetCDF(r, size, "netcdf")
}

// ncHeader decodes the header from a growing buffer.
type ncHeader struct {
	r       io.ReaderAt
	size    int64
	buf     []byte
	pos     int
	version int
	name    string
}

// need makes sure n more bytes are buffered, reading more of the file.
func (h *ncHeader) need(n int, what string) error {
	if n < 0 || int64(h.pos)+int64(n) > h.size {
		return fmt.Errorf("data: %s: truncated NetCDF header: %s needs %d bytes at offset %d of a %d-byte file", h.name, what, n, h.pos, h.size)
	}
	for h.pos+n > len(h.buf) {
		grow := max(len(h.buf), 4096, h.pos+n-len(h.buf))
		end := min(int64(len(h.buf)+grow), h.size)
		chunk := make([]byte, end-int64(len(h.buf)))
		if _, err := h.r.ReadAt(chunk, int64(len(h.buf))); err != nil && err != io.EOF {
			return fmt.Errorf("data: %s: reading the NetCDF header: %w", h.name, err)
		}
		h.buf = append(h.buf, chunk...)
	}
	return nil
}

func (h *ncHeader) u32(what string) (uint32, error) {
	if err := h.need(4, what); err != nil {
		return 0, err
	}
	v := binary.BigEndian.Uint32(h.buf[h.pos:])
	h.pos += 4
	return v, nil
}

func (h *ncHeader) u64(what string) (uint64, error) {
	if err := h.need(8, what); err != nil {
		return 0, err
	}
	v := binary.BigEndian.Uint64(h.buf[h.pos:])
	h.pos += 8
	return v, nil
}

// count reads a NON_NEG count: 4 bytes, or 8 in CDF-5.
func (h *ncHeader) count(what string) (int, error) {
	var v uint64
	if h.version == 5 {
		x, err := h.u64(what)
		if err != nil {
			return 0, err
		}
		v = x
	} else {
		x, err := h.u32(what)
		if err != nil {
			return 0, err
		}
		v = uint64(x)
	}
	if v > math.MaxInt32*64 {
		return 0, fmt.Errorf("data: %s: corrupt NetCDF header: %s is %d at offset %d", h.name, what, v, h.pos)
	}
	return int(v), nil
}

func (h *ncHeader) name_(what string) (string, error) {
	n, err := h.count(what + " name length")
	if err != nil {
		return "", err
	}
	if n > 1<<16 {
		return "", fmt.Errorf("data: %s: corrupt NetCDF header: %s name of %d bytes", h.name, what, n)
	}
	pad := (4 - n%4) % 4
	if err := h.need(n+pad, what+" name"); err != nil {
		return "", err
	}
	s := string(h.buf[h.pos : h.pos+n])
	h.pos += n + pad
	return s, nil
}

// list reads a list's tag and length; ABSENT (0, 0) gives 0.
func (h *ncHeader) list(tag uint32, what string) (int, error) {
	t, err := h.u32(what + " tag")
	if err != nil {
		return 0, err
	}
	n, err := h.count(what + " count")
	if err != nil {
		return 0, err
	}
	if t == 0 && n == 0 {
		return 0, nil
	}
	if t != tag {
		return 0, fmt.Errorf("data: %s: corrupt NetCDF header: %s tag is 0x%x, want 0x%x", h.name, what, t, tag)
	}
	return n, nil
}

func (h *ncHeader) attrs(what string) ([]NetCDFAttr, error) {
	n, err := h.list(0x0C, what+" attribute list")
	if err != nil {
		return nil, err
	}
	var out []NetCDFAttr
	for i := 0; i < n; i++ {
		name, err := h.name_(what + " attribute")
		if err != nil {
			return nil, err
		}
		t, err := h.u32("type of attribute " + name)
		if err != nil {
			return nil, err
		}
		typ := NetCDFType(t)
		if typ.Size() == 0 || (h.version != 5 && typ > NetCDFDouble) {
			return nil, fmt.Errorf("data: %s: corrupt NetCDF header: attribute %q has unknown type %d", h.name, name, t)
		}
		cnt, err := h.count("length of attribute " + name)
		if err != nil {
			return nil, err
		}
		nb := cnt * typ.Size()
		pad := (4 - nb%4) % 4
		if err := h.need(nb+pad, "values of attribute "+name); err != nil {
			return nil, err
		}
		a := NetCDFAttr{Name: name, Type: typ}
		raw := h.buf[h.pos : h.pos+nb]
		if typ == NetCDFChar {
			a.Text = strings.TrimRight(string(raw), "\x00")
		} else {
			a.Values = make([]float64, cnt)
			decodeNetCDF(a.Values, raw, typ)
		}
		h.pos += nb + pad
		out = append(out, a)
	}
	return out, nil
}

func readNetCDF(r io.ReaderAt, size int64, name string) (*NetCDFFile, error) {
	h := &ncHeader{r: r, size: size, name: name}
	if size >= 8 {
		magic := make([]byte, 8)
		for _, off := range []int64{0, 512, 1024, 2048} {
			if off+8 > size {
				break
			}
			if _, err := r.ReadAt(magic, off); err == nil && bytes.Equal(magic, hdf5Magic) {
				return nil, fmt.Errorf("data: %s is a NetCDF-4/HDF5 file: %w", name, ErrNetCDF4)
			}
		}
	}
	if err := h.need(4, "the magic number"); err != nil {
		return nil, fmt.Errorf("data: %s is not a NetCDF file: it has %d bytes, fewer than the 4 of the magic number \"CDF\\x01\"", name, size)
	}
	if string(h.buf[:3]) != "CDF" {
		return nil, fmt.Errorf("data: %s is not a NetCDF file: it starts with %q, not \"CDF\" (classic) or \"\\x89HDF\" (NetCDF-4)", name, h.buf[:min(len(h.buf), 4)])
	}
	h.version = int(h.buf[3])
	if h.version != 1 && h.version != 2 && h.version != 5 {
		return nil, fmt.Errorf("data: %s: unknown NetCDF classic version %d (want 1, 2 or 5)", name, h.version)
	}
	h.pos = 4
	f := &NetCDFFile{Version: h.version, r: r, size: size, name: name}
	var numrecs uint64
	streaming := false
	if h.version == 5 {
		v, err := h.u64("the record count")
		if err != nil {
			return nil, err
		}
		numrecs, streaming = v, v == math.MaxUint64
	} else {
		v, err := h.u32("the record count")
		if err != nil {
			return nil, err
		}
		numrecs, streaming = uint64(v), v == math.MaxUint32
	}
	nd, err := h.list(0x0A, "dimension list")
	if err != nil {
		return nil, err
	}
	recDim := -1
	for i := 0; i < nd; i++ {
		dn, err := h.name_("dimension")
		if err != nil {
			return nil, err
		}
		l, err := h.count("length of dimension " + dn)
		if err != nil {
			return nil, err
		}
		d := NetCDFDim{Name: dn, Len: l}
		if l == 0 {
			if recDim >= 0 {
				return nil, fmt.Errorf("data: %s: corrupt NetCDF header: two record dimensions (%q and %q)", name, f.Dims[recDim].Name, dn)
			}
			d.Unlimited, recDim = true, i
		}
		f.Dims = append(f.Dims, d)
	}
	if f.Attrs, err = h.attrs("global"); err != nil {
		return nil, err
	}
	nv, err := h.list(0x0B, "variable list")
	if err != nil {
		return nil, err
	}
	for i := 0; i < nv; i++ {
		vn, err := h.name_("variable")
		if err != nil {
			return nil, err
		}
		ndims, err := h.count("rank of variable " + vn)
		if err != nil {
			return nil, err
		}
		if ndims > 1024 {
			return nil, fmt.Errorf("data: %s: corrupt NetCDF header: variable %q has %d dimensions", name, vn, ndims)
		}
		v := &NetCDFVar{Name: vn}
		for k := 0; k < ndims; k++ {
			id, err := h.count("dimension id of variable " + vn)
			if err != nil {
				return nil, err
			}
			if id >= len(f.Dims) {
				return nil, fmt.Errorf("data: %s: corrupt NetCDF header: variable %q uses dimension %d of %d", name, vn, id, len(f.Dims))
			}
			if id == recDim && k != 0 {
				return nil, fmt.Errorf("data: %s: corrupt NetCDF header: variable %q has the record dimension in place %d, not first", name, vn, k)
			}
			v.Dims = append(v.Dims, id)
		}
		v.Record = ndims > 0 && v.Dims[0] == recDim
		if v.Attrs, err = h.attrs("variable " + vn); err != nil {
			return nil, err
		}
		t, err := h.u32("type of variable " + vn)
		if err != nil {
			return nil, err
		}
		v.Type = NetCDFType(t)
		if v.Type.Size() == 0 || (h.version != 5 && v.Type > NetCDFDouble) {
			return nil, fmt.Errorf("data: %s: corrupt NetCDF header: variable %q has unknown type %d", name, vn, t)
		}
		if _, err := h.count("size of variable " + vn); err != nil { // vsize: recomputed below
			return nil, err
		}
		var begin uint64
		if h.version == 1 {
			b, err := h.u32("offset of variable " + vn)
			if err != nil {
				return nil, err
			}
			begin = uint64(b)
		} else if begin, err = h.u64("offset of variable " + vn); err != nil {
			return nil, err
		}
		if begin > uint64(size) {
			return nil, fmt.Errorf("data: %s: truncated or corrupt NetCDF file: variable %q starts at byte %d of a %d-byte file", name, vn, begin, size)
		}
		v.begin = int64(begin)
		f.Vars = append(f.Vars, v)
	}
	// Record layout: each record holds every record variable's slab, each
	// padded to 4 bytes unless it is the only record variable.
	var recVars []*NetCDFVar
	for _, v := range f.Vars {
		if v.Record {
			recVars = append(recVars, v)
		}
	}
	for _, v := range recVars {
		s := v.slabBytes(f.Dims)
		if len(recVars) > 1 {
			s += (4 - s%4) % 4
		}
		f.recSize += s
	}
	if streaming {
		// Count the records from the file size.
		if f.recSize > 0 && len(recVars) > 0 {
			numrecs = uint64((size - recVars[0].begin) / f.recSize)
		} else {
			numrecs = 0
		}
	}
	f.NumRecs = int(numrecs)
	if recDim >= 0 {
		f.Dims[recDim].Len = f.NumRecs
	}
	for _, v := range f.Vars {
		v.Shape = make([]int, len(v.Dims))
		for k, id := range v.Dims {
			v.Shape[k] = f.Dims[id].Len
		}
		// The data must lie inside the file.
		var end int64
		if v.Record {
			if f.NumRecs > 0 {
				end = v.begin + int64(f.NumRecs-1)*f.recSize + v.slabBytes(f.Dims)
			}
		} else {
			end = v.begin + v.slabBytes(f.Dims)
		}
		if end > size {
			return nil, fmt.Errorf("data: %s: truncated NetCDF file: variable %q needs bytes up to %d, the file has %d", name, v.Name, end, size)
		}
	}
	return f, nil
}

// slabBytes returns the bytes of the variable's values in one record
// (record variables) or in all (the others).
func (v *NetCDFVar) slabBytes(dims []NetCDFDim) int64 {
	n := int64(v.Type.Size())
	for k, id := range v.Dims {
		if k == 0 && v.Record {
			continue
		}
		n *= int64(dims[id].Len)
	}
	return n
}

// decodeNetCDF decodes big-endian values of type t from raw into dst.
func decodeNetCDF(dst []float64, raw []byte, t NetCDFType) {
	switch t {
	case NetCDFByte:
		for i := range dst {
			dst[i] = float64(int8(raw[i]))
		}
	case NetCDFChar, NetCDFUByte:
		for i := range dst {
			dst[i] = float64(raw[i])
		}
	case NetCDFShort:
		for i := range dst {
			dst[i] = float64(int16(binary.BigEndian.Uint16(raw[2*i:])))
		}
	case NetCDFUShort:
		for i := range dst {
			dst[i] = float64(binary.BigEndian.Uint16(raw[2*i:]))
		}
	case NetCDFInt:
		for i := range dst {
			dst[i] = float64(int32(binary.BigEndian.Uint32(raw[4*i:])))
		}
	case NetCDFUInt:
		for i := range dst {
			dst[i] = float64(binary.BigEndian.Uint32(raw[4*i:]))
		}
	case NetCDFFloat:
		for i := range dst {
			dst[i] = float64(math.Float32frombits(binary.BigEndian.Uint32(raw[4*i:])))
		}
	case NetCDFDouble:
		for i := range dst {
			dst[i] = math.Float64frombits(binary.BigEndian.Uint64(raw[8*i:]))
		}
	case NetCDFInt64:
		for i := range dst {
			dst[i] = float64(int64(binary.BigEndian.Uint64(raw[8*i:])))
		}
	case NetCDFUInt64:
		for i := range dst {
			dst[i] = float64(binary.BigEndian.Uint64(raw[8*i:]))
		}
	}
}

// ReadRaw returns the values of variable name as stored (no unpacking), in
// row-major order of its Shape, converted to float64.
func (f *NetCDFFile) ReadRaw(name string) ([]float64, error) {
	v := f.Var(name)
	if v == nil {
		return nil, fmt.Errorf("data: %s has no variable %q (it has %s)", f.name, name, f.varNames())
	}
	out := make([]float64, v.Len())
	slab := v.slabBytes(f.Dims)
	if !v.Record {
		if err := f.readAt(out, v, v.begin, slab); err != nil {
			return nil, err
		}
		return out, nil
	}
	per := int(slab) / v.Type.Size()
	for rec := 0; rec < f.NumRecs; rec++ {
		if err := f.readAt(out[rec*per:(rec+1)*per], v, v.begin+int64(rec)*f.recSize, slab); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (f *NetCDFFile) readAt(dst []float64, v *NetCDFVar, off, n int64) error {
	if n == 0 {
		return nil
	}
	raw := make([]byte, n)
	if _, err := f.r.ReadAt(raw, off); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return fmt.Errorf("data: %s: truncated NetCDF file: variable %q needs bytes %d to %d", f.name, v.Name, off, off+n)
		}
		return fmt.Errorf("data: %s: reading variable %q: %w", f.name, v.Name, err)
	}
	decodeNetCDF(dst, raw, v.Type)
	return nil
}

func (f *NetCDFFile) varNames() string {
	var s []string
	for _, v := range f.Vars {
		s = append(s, v.Name)
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// Read returns the values of variable name unpacked as the CF conventions
// say: values equal to _FillValue or missing_value (or outside
// valid_min/valid_max/valid_range) become NaN, the others x·scale_factor +
// add_offset (ERA5 ships packed shorts this way). Without a _FillValue
// the NetCDF default fill value of the type counts as missing, as
// netCDF-C does.
func (f *NetCDFFile) Read(name string) ([]float64, error) {
	raw, err := f.ReadRaw(name)
	if err != nil {
		return nil, err
	}
	v := f.Var(name)
	scale, offset := 1.0, 0.0
	if a, ok := v.Attr("scale_factor"); ok && len(a.Values) > 0 {
		scale = a.Values[0]
	}
	if a, ok := v.Attr("add_offset"); ok && len(a.Values) > 0 {
		offset = a.Values[0]
	}
	var missing []float64
	if a, ok := v.Attr("_FillValue"); ok && len(a.Values) > 0 {
		missing = append(missing, a.Values[0])
	} else if d, ok := defaultFill(v.Type); ok {
		missing = append(missing, d)
	}
	if a, ok := v.Attr("missing_value"); ok {
		missing = append(missing, a.Values...)
	}
	lo, hi := math.Inf(-1), math.Inf(1)
	if a, ok := v.Attr("valid_range"); ok && len(a.Values) == 2 {
		lo, hi = a.Values[0], a.Values[1]
	}
	if a, ok := v.Attr("valid_min"); ok && len(a.Values) > 0 {
		lo = a.Values[0]
	}
	if a, ok := v.Attr("valid_max"); ok && len(a.Values) > 0 {
		hi = a.Values[0]
	}
	isFloat := v.Type == NetCDFFloat
	for i, x := range raw {
		miss := x < lo || x > hi || math.IsNaN(x)
		for _, m := range missing {
			if x == m || (isFloat && float32(x) == float32(m)) {
				miss = true
			}
		}
		if miss {
			raw[i] = math.NaN()
		} else {
			raw[i] = x*scale + offset
		}
	}
	return raw, nil
}

// defaultFill returns the NetCDF default fill value of t.
func defaultFill(t NetCDFType) (float64, bool) {
	switch t {
	case NetCDFByte:
		return -127, true
	case NetCDFShort:
		return -32767, true
	case NetCDFInt:
		return -2147483647, true
	case NetCDFFloat:
		return float64(float32(9.9692099683868690e+36)), true
	case NetCDFDouble:
		return 9.9692099683868690e+36, true
	case NetCDFUByte:
		return 255, true
	case NetCDFUShort:
		return 65535, true
	case NetCDFUInt:
		return 4294967295, true
	}
	return 0, false // char, int64, uint64: not representable exactly
}

// WeatherNetCDFConfig selects what LoadWeatherNetCDF reads.
type WeatherNetCDFConfig struct {
	// Vars names the variables to read, in channel order: "t2m", or
	// "z@500" for level 500 of a variable with a level dimension (the
	// value of the level coordinate variable; the channel is then named
	// "z500"). Empty means every variable of the file with dimensions
	// [time, latitude, longitude].
	Vars []string
	// FillMissing replaces missing values (_FillValue, missing_value) by
	// the variable's mean over its valid values; without it a missing
	// value is an error.
	FillMissing bool
}

// LoadWeatherNetCDF reads the variables cfg selects from the NetCDF
// classic file at path (an ERA5 download converted to CDF-5, say) into
// fields of shape [time, vars, lat, lon], unpacked (scale_factor,
// add_offset), with per-variable normalisation statistics over the file and
// a climatology of the mean state at each time of day (4 slots for
// 6-hourly data; see WeatherFields.ComputeClimatology).
//
// Each variable must have the dimensions [time, latitude, longitude] or
// [time, level, latitude, longitude], the time dimension named "time" or
// "valid_time" (or being the record dimension), latitude "latitude" or
// "lat", longitude "longitude" or "lon", each with its coordinate variable;
// the time's units must read "<seconds|minutes|hours|days> since <date>".
// Latitudes stored south to north are flipped to north to south.
func LoadWeatherNetCDF(path string, cfg WeatherNetCDFConfig) (*WeatherFields, error) {
	f, err := OpenNetCDF(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return weatherFromNetCDF(f, cfg)
}

func dimRole(f *NetCDFFile, id int) string {
	d := f.Dims[id]
	switch strings.ToLower(d.Name) {
	case "time", "valid_time", "t":
		return "time"
	case "latitude", "lat":
		return "lat"
	case "longitude", "lon":
		return "lon"
	case "level", "pressure_level", "isobaricinhpa", "plev", "lev":
		return "level"
	}
	if d.Unlimited {
		return "time"
	}
	return ""
}

func weatherFromNetCDF(f *NetCDFFile, cfg WeatherNetCDFConfig) (*WeatherFields, error) {
	specs := cfg.Vars
	if len(specs) == 0 {
		for _, v := range f.Vars {
			if len(v.Dims) == 3 && dimRole(f, v.Dims[0]) == "time" && dimRole(f, v.Dims[1]) == "lat" && dimRole(f, v.Dims[2]) == "lon" {
				specs = append(specs, v.Name)
			}
		}
		if len(specs) == 0 {
			return nil, fmt.Errorf("data: %s has no variable of dimensions [time, latitude, longitude] (variables: %s)", f.name, f.varNames())
		}
	}
	out := &WeatherFields{}
	var timeDim, latDim, lonDim = -1, -1, -1
	var chans [][]float64
	for _, spec := range specs {
		name, level, hasLevel := strings.Cut(spec, "@")
		v := f.Var(name)
		if v == nil {
			return nil, fmt.Errorf("data: %s has no variable %q (it has %s)", f.name, name, f.varNames())
		}
		nd := len(v.Dims)
		if (nd != 3 && nd != 4) || dimRole(f, v.Dims[0]) != "time" || dimRole(f, v.Dims[nd-2]) != "lat" || dimRole(f, v.Dims[nd-1]) != "lon" {
			return nil, fmt.Errorf("data: %s: variable %q has dimensions %s; need [time, (level,) latitude, longitude]", f.name, name, f.dimNames(v))
		}
		if timeDim < 0 {
			timeDim, latDim, lonDim = v.Dims[0], v.Dims[nd-2], v.Dims[nd-1]
		} else if v.Dims[0] != timeDim || v.Dims[nd-2] != latDim || v.Dims[nd-1] != lonDim {
			return nil, fmt.Errorf("data: %s: variable %q is on another grid (%s) than the variables before it", f.name, name, f.dimNames(v))
		}
		vals, err := f.Read(name)
		if err != nil {
			return nil, err
		}
		nt, nlat, nlon := v.Shape[0], v.Shape[nd-2], v.Shape[nd-1]
		chName := name
		if nd == 4 {
			levVar := f.Var(f.Dims[v.Dims[1]].Name)
			if levVar == nil {
				return nil, fmt.Errorf("data: %s: the level dimension %q of %q has no coordinate variable", f.name, f.Dims[v.Dims[1]].Name, name)
			}
			levels, err := f.Read(levVar.Name)
			if err != nil {
				return nil, err
			}
			if !hasLevel {
				return nil, fmt.Errorf("data: %s: variable %q has levels %v; select one as %q", f.name, name, levels, name+"@"+fmt.Sprint(levels[0]))
			}
			li := -1
			for i, l := range levels {
				if fmt.Sprint(l) == level || fmt.Sprintf("%g", l) == level {
					li = i
				}
			}
			if li < 0 {
				return nil, fmt.Errorf("data: %s: variable %q has no level %s (levels %v)", f.name, name, level, levels)
			}
			nl := v.Shape[1]
			sel := make([]float64, 0, nt*nlat*nlon)
			for t := 0; t < nt; t++ {
				off := (t*nl + li) * nlat * nlon
				sel = append(sel, vals[off:off+nlat*nlon]...)
			}
			vals = sel
			chName = name + level
		} else if hasLevel {
			return nil, fmt.Errorf("data: %s: variable %q has no level dimension; name it without @%s", f.name, name, level)
		}
		var sum float64
		var nValid, nMissing int
		for _, x := range vals {
			if math.IsNaN(x) {
				nMissing++
			} else {
				sum += x
				nValid++
			}
		}
		if nMissing > 0 {
			if !cfg.FillMissing || nValid == 0 {
				return nil, fmt.Errorf("data: %s: variable %q has %d missing values (of %d); set FillMissing to replace them by its mean", f.name, name, nMissing, len(vals))
			}
			m := sum / float64(nValid)
			for i, x := range vals {
				if math.IsNaN(x) {
					vals[i] = m
				}
			}
		}
		out.Vars = append(out.Vars, chName)
		units := ""
		if a, ok := v.Attr("units"); ok {
			units = a.Text
		}
		out.Units = append(out.Units, units)
		chans = append(chans, vals)
	}
	// Coordinates.
	coord := func(dim int, what string) ([]float64, error) {
		cv := f.Var(f.Dims[dim].Name)
		if cv == nil {
			return nil, fmt.Errorf("data: %s: the %s dimension %q has no coordinate variable", f.name, what, f.Dims[dim].Name)
		}
		return f.Read(cv.Name)
	}
	lat, err := coord(latDim, "latitude")
	if err != nil {
		return nil, err
	}
	lon, err := coord(lonDim, "longitude")
	if err != nil {
		return nil, err
	}
	tv, err := coord(timeDim, "time")
	if err != nil {
		return nil, err
	}
	tunits, _ := f.Var(f.Dims[timeDim].Name).Attr("units")
	times, err := netcdfTimes(tv, tunits.Text)
	if err != nil {
		return nil, fmt.Errorf("data: %s: time variable %q: %w", f.name, f.Dims[timeDim].Name, err)
	}
	nt, nlat, nlon := len(times), len(lat), len(lon)
	flip := nlat > 1 && lat[0] < lat[nlat-1]
	if flip {
		for i, j := 0, nlat-1; i < j; i, j = i+1, j-1 {
			lat[i], lat[j] = lat[j], lat[i]
		}
	}
	out.Lat, out.Lon, out.Times = lat, lon, times
	nv := len(chans)
	out.Data = make([]float32, nt*nv*nlat*nlon)
	for c, vals := range chans {
		for t := 0; t < nt; t++ {
			for i := 0; i < nlat; i++ {
				si := i
				if flip {
					si = nlat - 1 - i
				}
				src := vals[(t*nlat+si)*nlon : (t*nlat+si+1)*nlon]
				dst := out.Data[((t*nv+c)*nlat+i)*nlon:]
				for j, x := range src {
					dst[j] = float32(x)
				}
			}
		}
	}
	out.ComputeStats()
	slots := 1
	if nt > 1 {
		step := times[1].Sub(times[0])
		if step > 0 && step < 24*time.Hour && (24*time.Hour)%step == 0 {
			slots = int(24 * time.Hour / step)
		}
	}
	out.ComputeClimatology(slots)
	return out, nil
}

func (f *NetCDFFile) dimNames(v *NetCDFVar) string {
	var s []string
	for _, id := range v.Dims {
		s = append(s, f.Dims[id].Name)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// netcdfTimes converts CF time values ("hours since 1900-01-01 00:00:00")
// to UTC times.
func netcdfTimes(vals []float64, units string) ([]time.Time, error) {
	unit, since, ok := strings.Cut(strings.TrimSpace(units), " since ")
	if !ok {
		return nil, fmt.Errorf("units %q are not \"<unit> since <date>\"", units)
	}
	var d time.Duration
	switch strings.ToLower(strings.TrimSpace(unit)) {
	case "seconds", "second", "secs", "sec", "s":
		d = time.Second
	case "minutes", "minute", "mins", "min":
		d = time.Minute
	case "hours", "hour", "hrs", "hr", "h":
		d = time.Hour
	case "days", "day", "d":
		d = 24 * time.Hour
	default:
		return nil, fmt.Errorf("unknown time unit %q in %q", unit, units)
	}
	since = strings.TrimSpace(since)
	since = strings.TrimSuffix(strings.TrimSuffix(since, " UTC"), "Z")
	var ref time.Time
	var err error
	for _, layout := range []string{"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02", "2006-1-2 15:4:5", "2006-1-2"} {
		if ref, err = time.ParseInLocation(layout, since, time.UTC); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the reference date %q of units %q", since, units)
	}
	out := make([]time.Time, len(vals))
	for i, v := range vals {
		if math.IsNaN(v) {
			return nil, fmt.Errorf("time %d is missing", i)
		}
		out[i] = ref.Add(time.Duration(math.Round(v * float64(d))))
	}
	return out, nil
}

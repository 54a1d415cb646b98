package data

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func ncPath(name string) string { return filepath.Join("testdata", "netcdf", name) }

func TestNetCDFClassicVersions(t *testing.T) {
	for _, c := range []struct {
		file    string
		version int
	}{{"era5_small_cdf1.nc", 1}, {"era5_small_cdf2.nc", 2}, {"era5_small_cdf5.nc", 5}} {
		t.Run(c.file, func(t *testing.T) {
			f, err := OpenNetCDF(ncPath(c.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Version != c.version || f.NumRecs != 4 {
				t.Fatalf("version %d, %d records; want %d, 4", f.Version, f.NumRecs, c.version)
			}
			wantDims := []NetCDFDim{{"longitude", 4, false}, {"latitude", 3, false}, {"time", 4, true}}
			if len(f.Dims) != 3 {
				t.Fatalf("dims %v", f.Dims)
			}
			for i, d := range wantDims {
				if f.Dims[i] != d {
					t.Errorf("dim %d = %+v, want %+v", i, f.Dims[i], d)
				}
			}
			if a, ok := f.Attr("Conventions"); !ok || a.Text != "CF-1.6" || a.Type != NetCDFChar {
				t.Errorf("Conventions = %+v", a)
			}
			if a, ok := f.Attr("numbers"); !ok || a.Type != NetCDFInt || len(a.Values) != 3 || a.Values[1] != -2 {
				t.Errorf("numbers = %+v", a)
			}
			z := f.Var("z")
			if z == nil || z.Type != NetCDFShort || !z.Record || len(z.Shape) != 3 || z.Shape[0] != 4 || z.Shape[1] != 3 || z.Shape[2] != 4 {
				t.Fatalf("z = %+v", z)
			}
			raw, err := f.ReadRaw("z")
			if err != nil {
				t.Fatal(err)
			}
			if raw[0] != 0 || raw[13] != 101 || raw[23] != -32767 || raw[47] != 311 {
				t.Errorf("raw z = %v", raw)
			}
			zv, err := f.Read("z")
			if err != nil {
				t.Fatal(err)
			}
			if zv[13] != 54000+0.5*101 || !math.IsNaN(zv[23]) || zv[47] != 54000+0.5*311 {
				t.Errorf("unpacked z[13], z[23], z[47] = %v %v %v", zv[13], zv[23], zv[47])
			}
			// The second record variable interleaves with the first.
			tv, err := f.Read("t")
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(tv[12]-(270-1)) > 1e-9 || math.Abs(tv[47]-(270-0.12)) > 1e-9 {
				t.Errorf("t[12], t[47] = %v %v", tv[12], tv[47])
			}
			tm, _ := f.ReadRaw("time")
			if len(tm) != 4 || tm[0] != 1051896 || tm[3] != 1051914 {
				t.Errorf("time = %v", tm)
			}
			d, _ := f.Read("d")
			if d[0] != 1.5 || d[1] != -2.25 || d[2] != 1e300 {
				t.Errorf("double d = %v", d)
			}
			b, _ := f.Read("b")
			if b[0] != -1 || b[1] != 0 || b[2] != 127 {
				t.Errorf("byte b = %v", b)
			}
			fl, _ := f.Read("f")
			if fl[0] != 1.5 || !math.IsNaN(fl[1]) || fl[2] != 3.25 {
				t.Errorf("float f with missing_value = %v", fl)
			}
		})
	}
}

func TestNetCDFCDF5Types(t *testing.T) {
	f, err := OpenNetCDF(ncPath("levels_cdf5.nc"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Version != 5 || f.NumRecs != 0 {
		t.Fatalf("version %d, records %d", f.Version, f.NumRecs)
	}
	if tv := f.Var("valid_time"); tv.Type != NetCDFInt {
		t.Errorf("valid_time type %v", tv.Type)
	}
	raw, _ := f.ReadRaw("valid_time")
	if raw[2] != 1577880000 {
		t.Errorf("valid_time = %v", raw)
	}
	u, err := f.Read("u")
	if err != nil {
		t.Fatal(err)
	}
	if f.Var("u").Type != NetCDFUShort || math.Abs(u[0]-0) > 1e-9 || math.Abs(u[35]-5.5) > 1e-9 {
		t.Errorf("ushort u unpacked: %v", u)
	}
	big, _ := f.ReadRaw("big")
	if big[0] != 1 || big[1] != 18446744073709551615 {
		t.Errorf("uint64 big = %v", big)
	}
}

func TestNetCDFStreamingRecords(t *testing.T) {
	b, err := os.ReadFile(ncPath("era5_small_cdf1.nc"))
	if err != nil {
		t.Fatal(err)
	}
	binary.BigEndian.PutUint32(b[4:], 0xFFFFFFFF) // STREAMING
	f, err := ReadNetCDF(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if f.NumRecs != 4 || f.Dims[2].Len != 4 {
		t.Errorf("streaming file: %d records", f.NumRecs)
	}
}

func TestNetCDF4Error(t *testing.T) {
	_, err := OpenNetCDF(ncPath("era5_small_nc4.nc"))
	if err == nil || !errors.Is(err, ErrNetCDF4) || !strings.Contains(err.Error(), "nccopy -k cdf5") || !strings.Contains(err.Error(), "HDF5") {
		t.Fatalf("error %v; want ErrNetCDF4 naming nccopy", err)
	}
	_, err = LoadWeatherNetCDF(ncPath("era5_small_nc4.nc"), WeatherNetCDFConfig{})
	if !errors.Is(err, ErrNetCDF4) {
		t.Fatalf("LoadWeatherNetCDF: %v", err)
	}
}

func TestNetCDFCorrupt(t *testing.T) {
	b, err := os.ReadFile(ncPath("era5_small_cdf2.nc"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not a NetCDF file"},
		{"not netcdf", []byte("hello world, this is text"), "not a NetCDF file"},
		{"bad version", append([]byte("CDF\x03"), b[4:]...), "unknown NetCDF classic version 3"},
		{"header cut", b[:40], "truncated NetCDF header"},
		{"data cut", b[:len(b)-20], "truncated NetCDF file"},
		{"bad tag", func() []byte {
			c := append([]byte(nil), b...)
			binary.BigEndian.PutUint32(c[8:], 0x0B) // dimension list tag → variable tag
			return c
		}(), "dimension list tag"},
	} {
		_, err := ReadNetCDF(bytes.NewReader(c.data), int64(len(c.data)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v; want one containing %q", c.name, err, c.want)
		}
	}
	f, err := OpenNetCDF(ncPath("era5_small_cdf1.nc"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Read("nope"); err == nil || !strings.Contains(err.Error(), "no variable \"nope\"") {
		t.Errorf("missing variable: %v", err)
	}
	if _, err := OpenNetCDF(ncPath("does_not_exist.nc")); err == nil {
		t.Error("opened a missing file")
	}
}

func TestLoadWeatherNetCDF(t *testing.T) {
	_, err := LoadWeatherNetCDF(ncPath("era5_small_cdf5.nc"), WeatherNetCDFConfig{Vars: []string{"z", "t"}})
	if err == nil || !strings.Contains(err.Error(), "missing values") {
		t.Fatalf("want a missing-value error, got %v", err)
	}
	w, err := LoadWeatherNetCDF(ncPath("era5_small_cdf5.nc"), WeatherNetCDFConfig{Vars: []string{"z", "t"}, FillMissing: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Vars) != 2 || w.Vars[0] != "z" || w.Units[0] != "m**2 s**-2" || len(w.Lat) != 3 || len(w.Lon) != 4 || w.NumTimes() != 4 {
		t.Fatalf("fields %v %v lat %v lon %v times %d", w.Vars, w.Units, w.Lat, w.Lon, w.NumTimes())
	}
	want := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC) // 1051896 h after 1900-01-01
	if !w.Times[0].Equal(want) || !w.Times[3].Equal(want.Add(18*time.Hour)) {
		t.Errorf("times %v", w.Times)
	}
	// [time 1, var 0 (z), lat 1, lon 2] = 54000 + 0.5·106.
	st := w.State(1)
	if got := st[1*4+2]; got != 54000+53 {
		t.Errorf("z(1, 1, 2) = %v", got)
	}
	if got := w.State(2)[12+0]; math.Abs(float64(got)-(270+0.01)) > 1e-4 {
		t.Errorf("t(2, 0, 0) = %v", got)
	}
	if w.ClimSlots != 4 || len(w.Climatology) != 4*w.FieldSize() || len(w.Mean) != 2 || w.Std[0] <= 0 {
		t.Errorf("slots %d, climatology %d values, mean %v std %v", w.ClimSlots, len(w.Climatology), w.Mean, w.Std)
	}
	// With one state per slot, the climatology is the state itself.
	if c := w.ClimatologyAt(3); c[5] != w.State(3)[5] {
		t.Errorf("climatology %v, state %v", c[5], w.State(3)[5])
	}
	// All variables of [time, lat, lon] by default.
	all, err := LoadWeatherNetCDF(ncPath("era5_small_cdf1.nc"), WeatherNetCDFConfig{FillMissing: true})
	if err != nil || len(all.Vars) != 2 {
		t.Fatalf("default variables: %v %v", all, err)
	}
}

func TestLoadWeatherNetCDFLevels(t *testing.T) {
	p := ncPath("levels_cdf5.nc")
	if _, err := LoadWeatherNetCDF(p, WeatherNetCDFConfig{Vars: []string{"z"}}); err == nil || !strings.Contains(err.Error(), "select one") {
		t.Errorf("no level: %v", err)
	}
	if _, err := LoadWeatherNetCDF(p, WeatherNetCDFConfig{Vars: []string{"z@300"}}); err == nil || !strings.Contains(err.Error(), "no level 300") {
		t.Errorf("bad level: %v", err)
	}
	w, err := LoadWeatherNetCDF(p, WeatherNetCDFConfig{Vars: []string{"z@850", "u@500"}})
	if err != nil {
		t.Fatal(err)
	}
	if w.Vars[0] != "z850" || w.Vars[1] != "u500" {
		t.Errorf("vars %v", w.Vars)
	}
	// Latitudes were stored south to north: flipped.
	if w.Lat[0] != 30 || w.Lat[1] != -30 {
		t.Errorf("lat %v", w.Lat)
	}
	if !w.Times[1].Equal(time.Date(2020, 1, 1, 6, 0, 0, 0, time.UTC)) {
		t.Errorf("times %v", w.Times)
	}
	// z at time 1, level 850 (index 1): file rows (lat −30) 31 32 33, (lat 30) 34 35 36.
	st := w.State(1)
	if st[0] != 34 || st[3] != 31 {
		t.Errorf("z850 at time 1 = %v", st[:6])
	}
	// u at time 1, level 500: file rows (lat −30) 120 121 122, (lat 30)
	// 123 124 125, packed: x·0.1 − 10.
	if math.Abs(float64(st[6])-(-10+0.1*123)) > 1e-4 || math.Abs(float64(st[11])-(-10+0.1*122)) > 1e-4 {
		t.Errorf("u500 at time 1 = %v", st[6:12])
	}
}

func TestNetCDFTimes(t *testing.T) {
	for _, c := range []struct {
		units string
		v     float64
		want  time.Time
	}{
		{"hours since 1900-01-01 00:00:00.0", 1051896, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"seconds since 1970-01-01", 86400, time.Date(1970, 1, 2, 0, 0, 0, 0, time.UTC)},
		{"days since 2000-01-01T12:00:00Z", 0.5, time.Date(2000, 1, 2, 0, 0, 0, 0, time.UTC)},
		{"minutes since 2020-3-1 6:0:0", 30, time.Date(2020, 3, 1, 6, 30, 0, 0, time.UTC)},
	} {
		got, err := netcdfTimes([]float64{c.v}, c.units)
		if err != nil || !got[0].Equal(c.want) {
			t.Errorf("%q %v: %v %v; want %v", c.units, c.v, got, err, c.want)
		}
	}
	if _, err := netcdfTimes([]float64{1}, "fortnights since 2000-01-01"); err == nil {
		t.Error("accepted fortnights")
	}
	if _, err := netcdfTimes([]float64{1}, "hours"); err == nil {
		t.Error("accepted units without a date")
	}
}

func TestDecodeNetCDFTypes(t *testing.T) {
	raw := []byte{0xff, 0xff, 0xff, 0xfe, 0xd5, 0xfa, 0x0e, 0x00} // a negative int64
	got := make([]float64, 1)
	decodeNetCDF(got, raw, NetCDFInt64)
	if want := float64(int64(binary.BigEndian.Uint64(raw))); got[0] != want || got[0] >= 0 {
		t.Errorf("int64 %v, want %v", got[0], want)
	}
	decodeNetCDF(got, []byte{0x80, 0, 0, 1}, NetCDFUInt)
	if got[0] != 2147483649 {
		t.Errorf("uint %v", got[0])
	}
	decodeNetCDF(got, []byte{0x80}, NetCDFUByte)
	if got[0] != 128 {
		t.Errorf("ubyte %v", got[0])
	}
	for typ, size := range map[NetCDFType]int{NetCDFByte: 1, NetCDFChar: 1, NetCDFShort: 2, NetCDFInt: 4, NetCDFFloat: 4, NetCDFDouble: 8, NetCDFUByte: 1, NetCDFUShort: 2, NetCDFUInt: 4, NetCDFInt64: 8, NetCDFUInt64: 8, 12: 0} {
		if typ.Size() != size {
			t.Errorf("%v.Size() = %d, want %d", typ, typ.Size(), size)
		}
	}
}

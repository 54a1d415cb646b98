#!/bin/sh
# Regenerates the NetCDF test files from their CDL sources with ncgen
# (Debian: apt-get install netcdf-bin). The tests read only the .nc files.
# (ncgen 4.9 writes CDL int64 variables as int, so the CDF-5 test file
# holds ushort and uint64 but no int64; data/netcdf_test.go tests the
# int64 decoding on its own.)
set -e
cd "$(dirname "$0")"
ncgen -k classic -o era5_small_cdf1.nc era5_small.cdl
ncgen -k 64-bit-offset -o era5_small_cdf2.nc era5_small.cdl
ncgen -k cdf5 -o era5_small_cdf5.nc era5_small.cdl
ncgen -k cdf5 -o levels_cdf5.nc levels_cdf5.cdl
ncgen -k netCDF-4 -o era5_small_nc4.nc era5_small.cdl

package data_test

import (
	"fmt"
	"path/filepath"

	"github.com/deepgo/deepgo/data"
)

// Generate 10 days of the synthetic atmosphere and read its statistics.
func ExampleGenerateWeather() {
	cfg := data.DefaultWeatherConfig()
	cfg.Steps, cfg.SpinUp = 40, 100
	f, err := data.GenerateWeather(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.Vars, len(f.Lat), "×", len(f.Lon), "grid,", f.NumTimes(), "states from", f.Times[0].Format("2006-01-02 15:04"))
	fmt.Printf("z500 mean %.0f m²/s²; climatology at %d times of day\n", f.Mean[0], f.ClimSlots)
	// Output:
	// [z500 t850 u500 v500] 32 × 64 grid, 40 states from 2020-01-01 00:00
	// z500 mean 53500 m²/s²; climatology at 4 times of day
}

// Read two ERA5-style packed variables from a NetCDF classic file.
func ExampleLoadWeatherNetCDF() {
	f, err := data.LoadWeatherNetCDF(filepath.Join("testdata", "netcdf", "era5_small_cdf2.nc"),
		data.WeatherNetCDFConfig{Vars: []string{"z", "t"}, FillMissing: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.Vars, f.Units, f.Lat, f.Lon)
	fmt.Println(f.NumTimes(), "times from", f.Times[0].Format("2006-01-02 15:04"), "z(0,0,1) =", f.State(0)[1])
	// Output:
	// [z t] [m**2 s**-2 K] [45 0 -45] [0 90 180 270]
	// 4 times from 2020-01-01 00:00 z(0,0,1) = 54000.5
}

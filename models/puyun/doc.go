// Package puyun is PuYun (Zhu et al., "PuYun: Medium-Range Global Weather
// Forecasting Using Large Kernel Attention Convolutional Networks", 2024):
// an autoregressive large-kernel-attention convolutional network that maps
// two consecutive 6-hourly atmospheric states to the next (Model), run as
// a cascade of PuYun-Short for steps 1–20 and PuYun-Medium for steps 21–40
// (Cascade, with a streaming Rollout), and scored with the
// latitude-weighted RMSE and anomaly correlation (ACC) against persistence
// and climatology (Scores, Evaluate).
//
// What is public about PuYun is its inputs and outputs (69 variables on a
// 0.25° grid, two states in, the next out), its 12-value time embedding and
// the cascade; its internal widths and depths are not. The backbone here
// follows the spec's sketch (models.md §4): a patch embedding of the two
// concatenated states, VAN blocks whose large kernel attention wraps
// around in longitude only (layers.LKAPadLongitude), PixelShuffle
// upsampling and residual prediction x_{t+1} = x_t + Δ. Every size in it
// is our choice, and the doc comments say so.
//
// The data come from package data: the seeded synthetic atmosphere of
// data.GenerateWeather or reanalysis fields read by data.LoadWeatherNetCDF.
// A forecast from the normalised states at t−6 h and t:
//
//	f, err := data.GenerateWeather(data.DefaultWeatherConfig())
//	if err != nil { ... }
//	norm := puyun.Normalization{Mean: f.Mean, Std: f.Std}
//	short := puyun.New(rng, puyun.DefaultConfig(len(f.Vars), len(f.Lat), len(f.Lon)))
//	... train short, copy it into medium (CopyWeights), fine-tune medium ...
//	c := &puyun.Cascade{Short: short, Medium: medium}
//	scores := puyun.Evaluate(c, f, norm, inits, 40, 16)
//	fmt.Println(scores.RMSE(0, 40), scores.ACC(0, 40))
//
// examples/puyun trains both stages on the synthetic atmosphere and prints
// the scores against persistence and climatology.
package puyun

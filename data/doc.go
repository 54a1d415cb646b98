// Package data holds deepgo's data pipeline: the Dataset interface and its
// Example, in-memory datasets, subsets and seeded random splits, a Loader
// that batches examples into tensors (shuffled from a seed, with an optional
// background prefetch goroutine), seeded augmentations and normalisation,
// readers for MNIST and Fashion-MNIST in the IDX format, and the data of the
// model zoo:
//
//   - EEG: a seeded synthetic SSVEP benchmark with the Tsinghua Benchmark's
//     structure (GenerateSSVEP) and loaders for the real Benchmark and BETA
//     recordings (LoadSSVEPDir, LoadSSVEPSubject) through a pure-Go reader
//     of MATLAB level-5 files (LoadMat, ReadMat).
//   - Weather: a seeded synthetic atmosphere on a latitude-longitude grid
//     with a geopotential-like field, advection, diffusion and forcing
//     (GenerateWeather), and reanalysis fields such as ERA5's from classic
//     NetCDF files (CDF-1, CDF-2, CDF-5; packed variables unpacked) through
//     a pure-Go reader (OpenNetCDF, ReadNetCDF, LoadWeatherNetCDF).
//   - Graph time series: tsl's GPVAR process on a triangular-community graph
//     (GenerateGPVAR, with its noise floor GPVARNoiseFloor) and METR-LA-like
//     traffic speeds on a road-like sensor graph with missing readings
//     (GenerateTraffic); real sensor readings from CSV or NumPy .npy/.npz
//     (LoadSensorData, LoadGraphSeriesCSV, LoadGraphSeriesNPZ, ReadNPZ) with
//     tsl's preprocessing: a thresholded Gaussian-kernel graph from
//     distances (GaussianKernelAdjacency), zero-as-missing masks, forward
//     filling, a scaler fit on the training part, the temporal split and
//     sliding windows (NewGraphWindows).
//
// A typical training set-up:
//
//	trainSet, testSet, err := data.LoadMNIST("") // finds the files; see LoadMNIST
//	if err != nil { ... }
//	parts, err := data.RandomSplit(trainSet, []int{55000, 5000}, 1)
//	if err != nil { ... }
//	train, err := data.NewLoader(parts[0], data.LoaderConfig{
//		BatchSize:  128,
//		Shuffle:    true,
//		Seed:       1,
//		Prefetch:   2,
//		Transforms: []data.Transform{data.Normalize([]float32{data.MNISTMean}, []float32{data.MNISTStd})},
//	})
//	if err != nil { ... }
//	it := train.Iter(epoch, 0)
//	for it.Next() {
//		b := it.Batch() // b.X is [128, 1, 28, 28], b.Labels the classes
//		...
//	}
//	it.Close()
//	if err := it.Err(); err != nil { ... }
//
// # Reproducibility
//
// Everything random is derived from explicit seeds, never from global state:
// the order of epoch e is a permutation drawn from (Seed, e), and the
// augmentation of the example at position p of epoch e uses a generator
// seeded from (Seed, e, p). So Iter(e, k) yields exactly the batches k, k+1,
// ... that Iter(e, 0) yields after skipping k, which is what resuming a
// training run from a checkpoint needs.
//
// # Memory
//
// Datasets keep their data once (MNIST as bytes, 47 MB for the training
// set); a Subset and a Loader hold only indices, plus the batches being
// prefetched. Item returns a fresh copy of one example.
//
// # Errors and concurrency
//
// Anything that reads files or data returns an error that names the file
// and says what to do; a bad argument to a constructor is an error too.
// A Dataset's Item may be called from the loader's prefetch goroutine while
// the caller trains, so Item must be safe to call concurrently with itself
// (the datasets of this package only read their data). A Loader may run
// several iterators at once; an Iter is for one goroutine.
package data

// Package stgnn holds spatio-temporal graph neural network forecasters
// after TorchSpatiotemporal/tsl: a time-then-space model (tsl's tutorial
// TimeThenSpaceModel), DCRNN (Li et al., ICLR 2018), Graph WaveNet (Wu et
// al., IJCAI 2019), STCN and GRU-GCN, together with tsl's masked metrics
// (MAE, RMSE and MAPE overall and per horizon step), a masked-MAE training
// loop with early stopping, and the naive baselines of traffic
// forecasting (last value, historical average).
//
// Every model maps a window of readings on the N nodes of a graph, x of
// shape [B, W, N, F], optionally with exogenous inputs u [B, W, N, U]
// (such as the time of day), to a forecast [B, H, N, F] of the next H
// steps:
//
//	m := stgnn.NewTimeThenSpace(rng, stgnn.TimeThenSpaceConfig(n, 1, 12))
//	y := m.Forward(x, nil, g) // g: the layers.Graph of the sensors
//
// # Missing readings
//
// As in tsl (and DCRNN's METR-LA pipeline), the mask does not enter the
// networks: missing readings are forward-filled in the input before the
// series is scaled (data.GraphSeries.ForwardFill), and the mask only
// weighs the loss and the metrics, so a missing target counts for
// nothing. See data.LoadSensorData and data.GenerateTraffic.
//
// # Data
//
// Package data provides the series: the GPVAR process of tsl
// (data.GenerateGPVAR, with a known noise floor), a traffic-like
// generator (data.GenerateTraffic) and readers for real sensor files
// (data.LoadSensorData); Prepare turns one into the scaled training,
// validation and test windows of tsl's protocol.
package stgnn

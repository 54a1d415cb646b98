// Package ssvep is the SSVEP speller of Guney, Oblokulov and Ozkan ("A Deep
// Neural Network for SSVEP-based Brain-Computer Interfaces", IEEE TBME
// 2022; osmanberke/Deep-SSVEP-BCI): the DNN (Net), its filter-bank
// pre-processing (FilterBank, Prepare), the two-stage training — a global
// model on every subject, then a copy fine-tuned per subject — evaluated
// leave-one-block-out (LeaveOneBlockOut), the information transfer rate
// (ITR), and FBCCA (Chen et al. 2015), the training-free baseline.
//
// The data come from package data: the seeded synthetic benchmark of
// data.GenerateSSVEP, or the Tsinghua Benchmark and BETA recordings read
// by data.LoadSSVEPDir. A run on one window length:
//
//	d, err := data.GenerateSSVEP(data.DefaultSSVEPConfig())
//	if err != nil { ... }
//	fbcca, err := ssvep.EvaluateFBCCA(d, 0.4, ssvep.DefaultFBCCAConfig())
//	if err != nil { ... }
//	feat, err := ssvep.Prepare(d, 0.4, ssvep.NewFilterBank(3, d.SampleRate))
//	if err != nil { ... }
//	res, err := ssvep.LeaveOneBlockOut(ctx, feat, ssvep.PaperTrainConfig())
//	if err != nil { ... }
//	fmt.Println(ssvep.MeanAccuracy(fbcca), ssvep.MeanAccuracy(res.Stage2),
//		ssvep.MeanITR(res.Stage2, d.Targets(), 0.4))
//
// PaperTrainConfig trains 1000 + 1000 epochs, which takes days on a CPU;
// examples/ssvep scales the epochs down and says how.
//
// Signal processing is in float64 (filters, FBCCA); the network in float32.
// Windows are cut first and then filtered with zero phase, as the paper's
// PreProcess.m does.
package ssvep

// Package train holds deepgo's training loop: a Trainer that runs an
// optimizer over a data.Loader for a number of epochs or steps, evaluates on
// a validation loader, tracks loss, accuracy and user metrics, stops early
// when the validation score stops improving, shows progress on the terminal
// (plain log lines when the output is not one), saves checkpoints that
// resume the run bit for bit, and writes the metrics history as CSV and as
// a PNG plot.
//
// A model is any value the nn package can walk (a pointer to a struct of
// layers); the Trainer only needs a StepFunc that runs it on a batch:
//
//	tr := &train.Trainer{
//		Model:     model,
//		Step:      func(b *data.Batch) train.Output {
//			logits := model.Forward(b.X)
//			return train.Output{Loss: autograd.CrossEntropy(logits, b.Labels, autograd.CrossEntropyOptions{}), Logits: logits}
//		},
//		Optimizer: opt,
//		Scheduler: sched,
//		Train:     trainLoader,
//		Val:       valLoader,
//		Epochs:    2,
//		Dir:       "out", // checkpoints, metrics.csv, curves.png
//	}
//	history, err := tr.Fit(ctx)
//
// # Resuming
//
// A checkpoint (see optim.SaveCheckpoint) holds the model, the optimizer,
// the schedule, the EMA, and the Trainer's own state: the step, the best
// score, the metrics history and the running sums of the current
// evaluation window. The data order is a function of the loader's seed and
// the epoch (see data.Loader.Iter), and the generators in RNGs are reseeded
// from (Seed, step) before every step, so Resume followed by Fit continues
// the run exactly: its final weights equal, bit for bit, those of a run
// that was never interrupted.
//
// # Files
//
// Checkpoints are written atomically (a temporary file in the same folder,
// synced, then renamed over the final name), so a crash while writing
// leaves the previous checkpoints intact; the temporary file it may leave
// behind starts with a dot and is ignored. LatestCheckpoint skips a file
// that does not read back.
//
// # Concurrency
//
// A Trainer runs on the goroutine that calls Fit; the loaders may prefetch
// on their own goroutines. Do not use the model, optimizer or schedule
// elsewhere while Fit runs.
package train

package stgnn_test

import (
	"context"
	"fmt"

	"github.com/deepgo/deepgo/autograd"
	"github.com/deepgo/deepgo/data"
	"github.com/deepgo/deepgo/models/stgnn"
	"github.com/deepgo/deepgo/nn"
)

// The time-then-space model forecasts 12 steps of every node from a
// window of 12.
func ExampleNewTimeThenSpace() {
	n, edges := data.TriCommunityGraph(2)
	g := stgnn.GraphOf(&data.GraphSeries{Nodes: n, Edges: edges})
	m := stgnn.NewTimeThenSpace(autograd.NewRNG(1), stgnn.TimeThenSpaceConfig(n, 1, 12))
	x := autograd.Zeros(4, 12, n, 1) // [B, W, N, F]
	y := m.Forward(x, nil, g)
	params, _ := nn.NumParams(m)
	fmt.Println(y.Shape(), params)
	// Output: [4 12 12 1] 12332
}

// Train a forecaster on GPVAR with tsl's protocol and score it with the
// masked metrics.
func ExampleFit() {
	cfg := data.DefaultGPVARConfig()
	cfg.Communities, cfg.Steps = 2, 1000
	s, err := data.GenerateGPVAR(cfg)
	if err != nil {
		panic(err)
	}
	task := stgnn.DefaultTaskConfig()
	task.Horizon = 1
	t, err := stgnn.Prepare(s, task)
	if err != nil {
		panic(err)
	}
	m := stgnn.NewTimeThenSpace(autograd.NewRNG(1), stgnn.TimeThenSpaceConfig(s.Nodes, 1, 1))
	tc := stgnn.DefaultTrainConfig("tts")
	tc.Epochs = 3
	if _, err := stgnn.Fit(context.Background(), m, t, tc); err != nil {
		panic(err)
	}
	test := stgnn.Evaluate(m, t, t.Test, 256, 0)
	last := stgnn.LastValue(t, t.Test)
	fmt.Println("beats last value:", test.MAE(0) < last.MAE(0))
	// Output: beats last value: true
}

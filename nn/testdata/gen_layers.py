#!/usr/bin/python3
"""Writes the layer goldens that nn's golden tests (layers_golden_test.go) load.

Run with Debian's PyTorch (python3-torch):

    /usr/bin/python3 nn/testdata/gen_layers.py

It writes one safetensors file per case into nn/testdata/layers/ (with the
hand-written writer of gen_safetensors.py, so the `safetensors` package is
not needed). Each file holds:

  <name>             the torch module's state_dict, exactly as torch names and
                     shapes it (float32; num_batches_tracked stays int64); the
                     Go test loads these into the Go layer strictly
  io.<input>         each input (float32, or int64 indices for Embedding)
  io.out.<output>    each output
  io.up.<output>     (cases with gradients) the upstream gradient of that
                     output: the loss is sum over outputs of sum(output * up)
  io.grad.<input>    the loss's gradient for each float input
  io.grad.<param>    the loss's gradient for each parameter, by state_dict name
  io.after.<buffer>  each buffer after the forward pass (BatchNorm's running
                     statistics in training mode)

Weights come from torch's own initialisation under torch.manual_seed; the
norms' weights, biases and running statistics are then randomised so that
they are not trivially 1 and 0. Inputs are float32. The forward and backward
passes run in float64 on those float32 values (a deep copy of the module
converted with .double()), and the results are rounded to float32 once, so a
goldens' error is the Go float32 kernels' own.
"""
import copy
import os
import sys

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in testdata
from gen_safetensors import save_file  # noqa: E402

OUT = os.path.join(HERE, "layers")


def randomize_norm(m):
    """Random affine parameters and running statistics for a norm layer."""
    with torch.no_grad():
        if getattr(m, "weight", None) is not None:
            m.weight.uniform_(0.5, 1.5)
        if getattr(m, "bias", None) is not None:
            m.bias.normal_(0, 0.5)
        if getattr(m, "running_mean", None) is not None:
            m.running_mean.normal_(0, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.num_batches_tracked.fill_(3)
    return m


def single(m, inp):
    return {"output": m(inp["input"])}


def rnn_fwd(m, inp):
    if "c0" in inp:
        out, (h, c) = m(inp["input"], (inp["h0"], inp["c0"]))
        return {"output": out, "hn": h, "cn": c}
    if isinstance(m, nn.LSTM):
        out, (h, c) = m(inp["input"])
        return {"output": out, "hn": h, "cn": c}
    if "h0" in inp:
        out, h = m(inp["input"], inp["h0"])
    else:
        out, h = m(inp["input"])
    return {"output": out, "hn": h}


def gru_cell_fwd(m, inp):
    return {"output": m(inp["input"], inp["h0"])}


def lstm_cell_fwd(m, inp):
    h, c = m(inp["input"], (inp["h0"], inp["c0"]))
    return {"hn": h, "cn": c}


def case(name, make, inputs, fwd=single, grads=True, train=True, seed=0):
    """Builds the module with a fixed seed, runs it in float64 and writes the file."""
    torch.manual_seed(seed)
    m = make()
    m.train(train)
    sd = {k: v.detach().clone() for k, v in m.state_dict().items()}
    ins = {k: v() if callable(v) else v for k, v in inputs.items()}
    m64 = copy.deepcopy(m).double()
    m64.train(train)
    ins64 = {}
    for k, v in ins.items():
        if v.is_floating_point():
            ins64[k] = v.double().requires_grad_(grads)
        else:
            ins64[k] = v
    outs = fwd(m64, ins64)
    out = dict(sd)
    for k, v in ins.items():
        out["io." + k] = v
    for k, v in outs.items():
        out["io.out." + k] = v.detach().float()
    if grads:
        loss = 0
        for k, v in outs.items():
            up = torch.randn(v.shape)
            out["io.up." + k] = up
            loss = loss + (v * up.double()).sum()
        loss.backward()
        for k, v in ins64.items():
            if v.is_floating_point():
                out["io.grad." + k] = v.grad.float()
        for k, p in m64.named_parameters():
            out["io.grad." + k] = p.grad.float()
    for k, b in m64.named_buffers():
        out["io.after." + k] = b.detach().float() if b.is_floating_point() else b.detach()
    save_file(out, os.path.join(OUT, name + ".safetensors"))
    return name


class SmallCNN(nn.Module):
    """Conv2d-BatchNorm2d-ReLU-MaxPool2d-Conv2d-ReLU-AdaptiveAvgPool2d-Flatten-Linear."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        x = self.pool(torch.relu(self.bn1(self.conv1(x))))
        x = torch.relu(self.conv2(x))
        return self.fc(self.flatten(self.gap(x)))


def small_cnn():
    m = SmallCNN()
    randomize_norm(m.bn1)
    return m


def main():
    assert sys.byteorder == "little", "safetensors data is little-endian"
    os.makedirs(OUT, exist_ok=True)
    r = torch.randn
    names = []
    add = names.append

    # Convolutions.
    add(case("conv1d", lambda: nn.Conv1d(4, 6, 3, stride=2, padding=1), {"input": lambda: r(2, 4, 9)}))
    add(case("conv1d_same_circular", lambda: nn.Conv1d(4, 6, 3, padding="same", padding_mode="circular", dilation=2, groups=2),
             {"input": lambda: r(2, 4, 10)}))
    add(case("conv1d_reflect", lambda: nn.Conv1d(3, 2, 4, padding=2, padding_mode="reflect", bias=False), {"input": lambda: r(2, 3, 7)}))
    add(case("conv2d", lambda: nn.Conv2d(3, 8, 3, padding=1), {"input": lambda: r(2, 3, 7, 6)}))
    add(case("conv2d_strided", lambda: nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2, bias=False),
             {"input": lambda: r(2, 4, 9, 8)}))
    add(case("conv2d_same", lambda: nn.Conv2d(3, 4, (4, 3), padding="same", dilation=(1, 2)), {"input": lambda: r(1, 3, 8, 9)}))
    add(case("conv2d_circular", lambda: nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode="circular"), {"input": lambda: r(2, 2, 6, 7)}))
    add(case("conv2d_replicate", lambda: nn.Conv2d(2, 3, 3, padding=1, padding_mode="replicate"), {"input": lambda: r(2, 2, 5, 6)}))
    add(case("conv2d_reflect_same", lambda: nn.Conv2d(2, 3, (3, 4), padding="same", padding_mode="reflect"), {"input": lambda: r(1, 2, 6, 7)}))
    add(case("conv2d_depthwise", lambda: nn.Conv2d(4, 4, 3, padding=1, groups=4), {"input": lambda: r(2, 4, 6, 6)}))
    add(case("conv2d_unbatched", lambda: nn.Conv2d(3, 2, 2), {"input": lambda: r(3, 5, 5)}))

    # Normalisation.
    add(case("layernorm", lambda: randomize_norm(nn.LayerNorm([5, 6])), {"input": lambda: r(3, 4, 5, 6)}))
    add(case("layernorm_noaffine", lambda: nn.LayerNorm(8, eps=1e-3, elementwise_affine=False), {"input": lambda: r(4, 8) * 3 + 1}))
    add(case("batchnorm1d_train_2d", lambda: randomize_norm(nn.BatchNorm1d(5)), {"input": lambda: r(8, 5) * 2 + 0.5}))
    add(case("batchnorm1d_train_3d", lambda: randomize_norm(nn.BatchNorm1d(4, momentum=0.3)), {"input": lambda: r(3, 4, 6)}))
    add(case("batchnorm2d_train", lambda: randomize_norm(nn.BatchNorm2d(3)), {"input": lambda: r(4, 3, 5, 5) * 1.5 - 0.5}))
    add(case("batchnorm2d_eval", lambda: randomize_norm(nn.BatchNorm2d(3)), {"input": lambda: r(4, 3, 5, 5)}, train=False))
    add(case("batchnorm2d_cumavg", lambda: randomize_norm(nn.BatchNorm2d(3, momentum=None)), {"input": lambda: r(2, 3, 4, 4)}))
    add(case("batchnorm2d_nostats_eval", lambda: nn.BatchNorm2d(3, affine=False, track_running_stats=False),
             {"input": lambda: r(2, 3, 4, 4)}, train=False))
    add(case("groupnorm", lambda: randomize_norm(nn.GroupNorm(2, 6)), {"input": lambda: r(3, 6, 4, 5)}))
    add(case("groupnorm_noaffine", lambda: nn.GroupNorm(3, 6, eps=1e-4, affine=False), {"input": lambda: r(2, 6, 7)}))

    # Embedding (indices include the padding row 2).
    add(case("embedding", lambda: nn.Embedding(10, 4, padding_idx=2),
             {"input": lambda: torch.tensor([[2, 0, 9, 2, 5], [1, 2, 3, 9, 9], [4, 4, 7, 8, 6]])}))

    # Recurrent layers.
    add(case("grucell", lambda: nn.GRUCell(5, 4), {"input": lambda: r(3, 5), "h0": lambda: r(3, 4)}, fwd=gru_cell_fwd))
    add(case("lstmcell", lambda: nn.LSTMCell(5, 4), {"input": lambda: r(3, 5), "h0": lambda: r(3, 4), "c0": lambda: r(3, 4)},
             fwd=lstm_cell_fwd))
    add(case("gru", lambda: nn.GRU(5, 4, num_layers=2, bidirectional=True), {"input": lambda: r(6, 3, 5), "h0": lambda: r(4, 3, 4)},
             fwd=rnn_fwd))
    add(case("gru_batchfirst", lambda: nn.GRU(3, 4, num_layers=2, batch_first=True, bias=False), {"input": lambda: r(2, 5, 3)},
             fwd=rnn_fwd))
    add(case("lstm", lambda: nn.LSTM(5, 4, num_layers=2, batch_first=True, bidirectional=True),
             {"input": lambda: r(3, 6, 5), "h0": lambda: r(4, 3, 4), "c0": lambda: r(4, 3, 4)}, fwd=rnn_fwd))
    add(case("lstm_unbatched", lambda: nn.LSTM(3, 5), {"input": lambda: r(4, 3)}, fwd=rnn_fwd))

    # Pooling and reshaping.
    add(case("maxpool2d", lambda: nn.MaxPool2d(3, stride=2, padding=1), {"input": lambda: r(2, 3, 9, 8)}))
    add(case("maxpool2d_ceil", lambda: nn.MaxPool2d((2, 3), stride=2, ceil_mode=True), {"input": lambda: r(1, 2, 7, 8)}))
    add(case("maxpool1d", lambda: nn.MaxPool1d(3, stride=2, padding=1, dilation=2), {"input": lambda: r(2, 3, 11)}))
    add(case("avgpool2d", lambda: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), {"input": lambda: r(2, 3, 9, 8)}))
    add(case("avgpool2d_ceil", lambda: nn.AvgPool2d(2, ceil_mode=True), {"input": lambda: r(1, 2, 5, 7)}))
    add(case("avgpool1d", lambda: nn.AvgPool1d(4, stride=3, padding=2), {"input": lambda: r(2, 3, 10)}))
    add(case("adaptiveavgpool2d", lambda: nn.AdaptiveAvgPool2d((3, 4)), {"input": lambda: r(2, 3, 7, 9)}))
    add(case("adaptiveavgpool2d_none", lambda: nn.AdaptiveAvgPool2d((None, 2)), {"input": lambda: r(2, 3, 5, 7)}))
    add(case("adaptiveavgpool1d", lambda: nn.AdaptiveAvgPool1d(4), {"input": lambda: r(2, 3, 10)}))
    add(case("flatten", lambda: nn.Flatten(), {"input": lambda: r(2, 3, 4, 5)}))
    add(case("flatten_0_2", lambda: nn.Flatten(0, 2), {"input": lambda: r(2, 3, 4, 5)}))
    add(case("pixelshuffle", lambda: nn.PixelShuffle(2), {"input": lambda: r(2, 8, 3, 4)}))
    add(case("pixelunshuffle", lambda: nn.PixelUnshuffle(2), {"input": lambda: r(2, 2, 6, 4)}))

    # A small CNN as a Go struct with the same attribute names.
    add(case("cnn_train", small_cnn, {"input": lambda: r(4, 3, 12, 12)}))
    add(case("cnn_eval", small_cnn, {"input": lambda: r(4, 3, 12, 12)}, train=False))

    print("wrote %d files into %s: %s" % (len(names), OUT, ", ".join(names)))


if __name__ == "__main__":
    main()

// Package layers holds deepgo's research layers, one file per family, built
// on the autograd engine and the basic layers of package nn:
//
//   - attention.go: multi-head scaled dot-product attention (self and
//     cross, key padding and causal masks, dropout) with timm's parameter
//     names, as a function and as layers
//   - block.go: timm's pre-norm transformer Block with its MLP and
//     LayerScale
//   - t2t.go: the Tokens-to-Token module of T2T-ViT: soft split, the token
//     transformer and the token performer
//   - lka.go: large kernel attention (VAN) and the layers of PuYun
//   - s4.go: the S4 and S4D state-space layers
//   - ssf.go: SSF scale-and-shift adapters
//   - lora.go: LoRA and LoRAMoE adapters
//   - graph.go: graph convolutions for spatio-temporal forecasting
//
// Every layer is a plain struct whose parameter fields carry the names of the
// reference implementation's state_dict, so checkpoints written by PyTorch
// load with nn.Load and nn.LoadStateDict. Each layer has a typed Forward;
// the single-input ones satisfy nn.Layer. Shape and argument errors panic,
// naming the layer and the shapes involved, as in package nn.
package layers

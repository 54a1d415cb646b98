#!/usr/bin/python3
"""Writes the goldens that layers' attention, block and T2T tests load.

Run with Debian's PyTorch (python3-torch, 1.13), not another python3 on PATH:

    /usr/bin/python3 layers/testdata/attn/gen_attn.py

It writes one safetensors file per case into layers/testdata/attn/ (the
format is written by hand below, so the `safetensors` package is not
needed). Each file holds:

  <name>           the reference module's state_dict, exactly as torch names
                   and shapes it; the Go test loads it strictly into the Go
                   layer, so the names are the checkpoint names
  io.<input>       each input (float32; masks are float32 0/1, 1 = ignore)
  io.out.<output>  each output
  io.up.<output>   the upstream gradient of that output: the loss is the sum
                   over outputs of sum(output * up)
  io.grad.<name>   the loss's gradient for each float input and each
                   trainable parameter (by state_dict name)

The reference modules below follow timm's Attention/Block/Mlp/LayerScale
(timm/models/vision_transformer.py) and T2T-ViT's Token_transformer,
Token_performer and T2T_module (yitu-opensource/T2T-ViT, models/), with the
same attribute names, so their state_dict names are the checkpoints' names.
Masks follow torch: key_padding_mask True = ignore that key (−inf logit),
causal = query i sees keys j ≤ i.

Weights come from torch's own initialisation under torch.manual_seed, and
the LayerNorms' weights and biases are randomised so that they are not 1 and
0. The forward and backward passes run in float64 on those float32 values
(a deep copy converted with .double()), and results are rounded to float32
once, so a golden's error is the Go float32 kernels' own. Dropout and drop
path are 0 (modules in eval mode): random masks cannot match across RNGs.
"""
import copy
import json
import math
import os
import struct
import sys

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))


def save_file(tensors, path):
    """Writes {name: tensor} in safetensors format, in dict order."""
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu().float()
        b = t.numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    js = json.dumps(header, separators=(",", ":")).encode()
    js += b" " * ((8 - len(js) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)))
        f.write(js)
        for b in blobs:
            f.write(b)


# ---------------------------------------------------------------- reference


def mask_logits(attn, key_padding_mask=None, causal=False):
    """attn [B, h, Nq, Nk]: −inf where a key is padded or in the future."""
    if key_padding_mask is not None:
        attn = attn.masked_fill(key_padding_mask.bool()[:, None, None, :], float("-inf"))
    if causal:
        nq, nk = attn.shape[-2:]
        future = torch.ones(nq, nk, dtype=torch.bool).triu(1)
        attn = attn.masked_fill(future, float("-inf"))
    return attn


class Attention(nn.Module):
    """timm's Attention: qkv, attn_drop, proj, proj_drop."""

    def __init__(self, dim, num_heads=8, qkv_bias=False, qk_scale=None):
        super().__init__()
        self.num_heads = num_heads
        head_dim = dim // num_heads
        self.scale = qk_scale or head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(0.0)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(0.0)

    def forward(self, x, key_padding_mask=None, causal=False):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = mask_logits(attn, key_padding_mask, causal)
        attn = self.attn_drop(attn.softmax(dim=-1))
        x = (attn @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj(x))


class CrossAttention(nn.Module):
    """Queries from x, keys and values from a context: q and kv (as PVT's
    Attention) or q, k and v, then proj."""

    def __init__(self, dim, kv_dim, num_heads, qkv_bias, separate):
        super().__init__()
        self.num_heads, self.separate = num_heads, separate
        self.scale = (dim // num_heads) ** -0.5
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        if separate:
            self.k = nn.Linear(kv_dim, dim, bias=qkv_bias)
            self.v = nn.Linear(kv_dim, dim, bias=qkv_bias)
        else:
            self.kv = nn.Linear(kv_dim, 2 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, context, key_padding_mask=None, causal=False):
        B, Nq, C = x.shape
        Nk = context.shape[1]
        h, dh = self.num_heads, C // self.num_heads
        q = self.q(x).reshape(B, Nq, h, dh).permute(0, 2, 1, 3)
        if self.separate:
            k = self.k(context).reshape(B, Nk, h, dh).permute(0, 2, 1, 3)
            v = self.v(context).reshape(B, Nk, h, dh).permute(0, 2, 1, 3)
        else:
            k, v = self.kv(context).reshape(B, Nk, 2, h, dh).permute(2, 0, 3, 1, 4).unbind(0)
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = mask_logits(attn, key_padding_mask, causal).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B, Nq, C))


class Mlp(nn.Module):
    """timm's Mlp: fc1, act, drop1, norm (Identity), fc2, drop2."""

    def __init__(self, in_features, hidden_features):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_features, in_features)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class LayerScale(nn.Module):
    def __init__(self, dim, init_values):
        super().__init__()
        self.gamma = nn.Parameter(init_values * torch.ones(dim))

    def forward(self, x):
        return x * self.gamma


class Block(nn.Module):
    """timm's Block: norm1, attn, ls1, drop_path1, norm2, mlp, ls2, drop_path2."""

    def __init__(self, dim, num_heads, mlp_ratio, qkv_bias, eps, init_values=None, qk_scale=None):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, num_heads, qkv_bias, qk_scale)
        self.ls1 = LayerScale(dim, init_values) if init_values else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.ls2 = LayerScale(dim, init_values) if init_values else nn.Identity()

    def forward(self, x, key_padding_mask=None):
        x = x + self.ls1(self.attn(self.norm1(x), key_padding_mask))
        return x + self.ls2(self.mlp(self.norm2(x)))


class T2TAttention(nn.Module):
    """T2T-ViT's token_transformer.Attention: dim → in_dim, scale from the
    input dim (the repo's quirk), v as the skip connection."""

    def __init__(self, dim, num_heads=1, in_dim=None):
        super().__init__()
        self.num_heads, self.in_dim = num_heads, in_dim
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, in_dim * 3, bias=False)
        self.proj = nn.Linear(in_dim, in_dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.in_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
        x = self.proj((attn @ v).transpose(1, 2).reshape(B, N, self.in_dim))
        return v.squeeze(1) + x


class TokenTransformer(nn.Module):
    def __init__(self, dim, in_dim):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = T2TAttention(dim, num_heads=1, in_dim=in_dim)
        self.norm2 = nn.LayerNorm(in_dim)
        self.mlp = Mlp(in_dim, in_dim)

    def forward(self, x):
        x = self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TokenPerformer(nn.Module):
    """T2T-ViT's Token_performer (one head, kernel_ratio 0.5)."""

    def __init__(self, dim, in_dim, kernel_ratio=0.5):
        super().__init__()
        self.emb = in_dim
        self.kqv = nn.Linear(dim, 3 * self.emb)
        self.dp = nn.Dropout(0.0)
        self.proj = nn.Linear(self.emb, self.emb)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(self.emb)
        self.epsilon = 1e-8
        self.mlp = nn.Sequential(nn.Linear(self.emb, self.emb), nn.GELU(), nn.Linear(self.emb, self.emb), nn.Dropout(0.0))
        self.m = int(self.emb * kernel_ratio)
        w = torch.randn(self.m, self.emb)
        self.w = nn.Parameter(nn.init.orthogonal_(w) * math.sqrt(self.m), requires_grad=False)

    def prm_exp(self, x):
        xd = (x * x).sum(dim=-1, keepdim=True).repeat(1, 1, self.m) / 2
        wtx = torch.einsum("bti,mi->btm", x, self.w)
        return torch.exp(wtx - xd) / math.sqrt(self.m)

    def single_attn(self, x):
        k, q, v = torch.split(self.kqv(x), self.emb, dim=-1)
        kp, qp = self.prm_exp(k), self.prm_exp(q)
        D = torch.einsum("bti,bi->bt", qp, kp.sum(dim=1)).unsqueeze(dim=2)
        kptv = torch.einsum("bin,bim->bnm", v, kp)
        y = torch.einsum("bti,bni->btn", qp, kptv) / (D.repeat(1, 1, self.emb) + self.epsilon)
        return v + self.dp(self.proj(y))

    def forward(self, x):
        x = self.single_attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class T2TModule(nn.Module):
    def __init__(self, tokens_type, in_chans, embed_dim, token_dim):
        super().__init__()
        self.soft_split0 = nn.Unfold(kernel_size=(7, 7), stride=(4, 4), padding=(2, 2))
        self.soft_split1 = nn.Unfold(kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))
        self.soft_split2 = nn.Unfold(kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))
        if tokens_type == "transformer":
            self.attention1 = TokenTransformer(in_chans * 7 * 7, token_dim)
            self.attention2 = TokenTransformer(token_dim * 3 * 3, token_dim)
        else:
            self.attention1 = TokenPerformer(in_chans * 7 * 7, token_dim)
            self.attention2 = TokenPerformer(token_dim * 3 * 3, token_dim)
        self.project = nn.Linear(token_dim * 3 * 3, embed_dim)

    def forward(self, x):
        x = self.soft_split0(x).transpose(1, 2)
        x = self.attention1(x)
        B, hw, C = x.shape
        x = x.transpose(1, 2).reshape(B, C, int(math.sqrt(hw)), int(math.sqrt(hw)))
        x = self.soft_split1(x).transpose(1, 2)
        x = self.attention2(x)
        B, hw, C = x.shape
        x = x.transpose(1, 2).reshape(B, C, int(math.sqrt(hw)), int(math.sqrt(hw)))
        x = self.soft_split2(x).transpose(1, 2)
        return self.project(x)


# ---------------------------------------------------------------- cases


def randomize_norms(m):
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.LayerNorm):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.normal_(0, 0.5)
            if isinstance(mod, LayerScale):
                mod.gamma.uniform_(0.05, 0.5)
    return m


def case(name, make, inputs, fwd, no_grad=()):
    """inputs: name → float32 tensor; those not in no_grad get gradients."""
    torch.manual_seed(0)
    m = randomize_norms(make()).eval()
    out = dict(m.state_dict())
    m64 = copy.deepcopy(m).double()
    ins64 = {}
    for k, v in inputs.items():
        out["io." + k] = v
        ins64[k] = v.double().requires_grad_(k not in no_grad)
    outs = fwd(m64, ins64)
    g = torch.Generator().manual_seed(99)
    loss = 0
    for k, v in outs.items():
        up = torch.randn(v.shape, generator=g)
        out["io.out." + k] = v.detach().float()
        out["io.up." + k] = up
        loss = loss + (v * up.double()).sum()
    loss.backward()
    for k, v in ins64.items():
        if v.requires_grad:
            out["io.grad." + k] = v.grad.float()
    for pn, p in m64.named_parameters():
        if p.requires_grad:
            out["io.grad." + pn] = p.grad.float()
    path = os.path.join(HERE, name + ".safetensors")
    save_file(out, path)
    return name


def rand(*shape, seed, scale=1.0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * scale


def padding(b, n, pads):
    """[b, n] float mask, 1 on the last pads[i] keys of sample i."""
    m = torch.zeros(b, n)
    for i, p in enumerate(pads):
        if p:
            m[i, n - p:] = 1
    return m


def main():
    assert sys.byteorder == "little"
    written = []
    kpm = lambda i: i["mask"] if "mask" in i else None  # noqa: E731

    written.append(case("attn_self", lambda: Attention(16, num_heads=4, qkv_bias=True),
                        {"x": rand(2, 5, 16, seed=1)}, lambda m, i: {"y": m(i["x"])}))
    written.append(case("attn_self_nobias_scale", lambda: Attention(12, num_heads=2, qkv_bias=False, qk_scale=0.3),
                        {"x": rand(3, 4, 12, seed=2)}, lambda m, i: {"y": m(i["x"])}))
    written.append(case("attn_keypad", lambda: Attention(16, num_heads=4, qkv_bias=True),
                        {"x": rand(3, 6, 16, seed=3), "mask": padding(3, 6, [0, 2, 5])},
                        lambda m, i: {"y": m(i["x"], kpm(i))}, no_grad=("mask",)))
    written.append(case("attn_causal", lambda: Attention(8, num_heads=2, qkv_bias=True),
                        {"x": rand(2, 7, 8, seed=4)}, lambda m, i: {"y": m(i["x"], causal=True)}))
    written.append(case("attn_keypad_causal", lambda: Attention(8, num_heads=1, qkv_bias=False),
                        {"x": rand(2, 5, 8, seed=5), "mask": padding(2, 5, [1, 0])},
                        lambda m, i: {"y": m(i["x"], kpm(i), True)}, no_grad=("mask",)))
    written.append(case("cross_kv", lambda: CrossAttention(16, 12, 4, True, False),
                        {"x": rand(2, 3, 16, seed=6), "context": rand(2, 6, 12, seed=7), "mask": padding(2, 6, [0, 3])},
                        lambda m, i: {"y": m(i["x"], i["context"], kpm(i))}, no_grad=("mask",)))
    written.append(case("cross_separate", lambda: CrossAttention(8, 8, 2, False, True),
                        {"x": rand(2, 4, 8, seed=8), "context": rand(2, 5, 8, seed=9)},
                        lambda m, i: {"y": m(i["x"], i["context"], causal=True)}))
    written.append(case("block_layerscale", lambda: Block(16, 4, 4.0, True, 1e-6, init_values=0.1),
                        {"x": rand(2, 5, 16, seed=10)}, lambda m, i: {"y": m(i["x"])}))
    written.append(case("block_t2tvit", lambda: Block(12, 3, 3.0, False, 1e-5, qk_scale=12 ** -0.5),
                        {"x": rand(2, 6, 12, seed=11), "mask": padding(2, 6, [2, 0])},
                        lambda m, i: {"y": m(i["x"], kpm(i))}, no_grad=("mask",)))
    written.append(case("token_transformer", lambda: TokenTransformer(27, 8),
                        {"x": rand(2, 9, 27, seed=12)}, lambda m, i: {"y": m(i["x"])}))
    written.append(case("token_performer", lambda: TokenPerformer(27, 8),
                        {"x": rand(2, 9, 27, seed=13)}, lambda m, i: {"y": m(i["x"])}))
    written.append(case("t2t_performer", lambda: T2TModule("performer", 3, 16, 8),
                        {"x": rand(2, 3, 32, 32, seed=14)}, lambda m, i: {"y": m(i["x"])}))
    written.append(case("t2t_transformer", lambda: T2TModule("transformer", 3, 16, 8),
                        {"x": rand(2, 3, 32, 32, seed=15)}, lambda m, i: {"y": m(i["x"])}))
    print("wrote", len(written), "goldens:", ", ".join(written))


if __name__ == "__main__":
    main()

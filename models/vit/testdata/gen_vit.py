#!/usr/bin/python3
"""Writes the goldens that models/vit's tests load.

Run with Debian's PyTorch (python3-torch, 1.13), not another python3 on PATH:

    /usr/bin/python3 models/vit/testdata/gen_vit.py

It needs torch and numpy only (timm and the T2T-ViT repository are not
installed: the reference modules below re-implement them with the same
attribute names, so that their state_dict names and order are the real
checkpoints'). It writes into models/vit/testdata/:

  param_counts.json   for each named configuration (timm's
                      vit_{tiny,small,base}_patch16_224 and the repository's
                      t2t_vit_{7,10,12,14,19,24} and t2t_vit_t_14), built at
                      full size: [trainable parameters, all parameters]
                      (the latter includes T2T-ViT's fixed pos_embed and the
                      performers' random features w), and the state_dict
                      names in order with their shapes
  <case>.safetensors  one small model per case:
      <name>          the model's state_dict, exactly as torch names and
                      shapes it; the Go test loads it strictly
      io.x            the input images
      io.out.logits   the logits
      io.up.logits    an upstream gradient: the loss is sum(logits * up)
      io.grad.<name>  the loss's gradient for x and each trainable parameter

Sources followed: timm/models/vision_transformer.py (VisionTransformer,
Block, Attention, Mlp, PatchEmbed; class token, learned pos_embed, final
norm, head on token 0, LayerNorm eps 1e-6, qkv_bias=True) and
yitu-opensource/T2T-ViT models/t2t_vit.py, token_performer.py,
token_transformer.py and transformer_block.py (T2T_module, T2T_ViT,
get_sinusoid_encoding; blocks without qkv bias, LayerNorm eps 1e-5).

The weights are drawn under torch.manual_seed and then re-drawn larger than
the models' own initialisation (Linear weights N(0, 1/fan_in), biases
N(0, 0.1²), LayerNorm weights U(0.5, 1.5) and biases N(0, 0.5²), ViT's
cls_token and pos_embed N(0, 0.5²), T2T-ViT's cls_token N(0, 1)), so that
every parameter visibly changes the output; T2T-ViT's pos_embed stays the
fixed sinusoid. The forward and backward passes run in float64 on those
float32 values (a deep copy converted with .double()), and results are
rounded to float32 once, so a golden's error is the Go float32 kernels'
own. Dropout and drop path are 0 (eval mode).
"""
import copy
import json
import math
import os
import struct
import sys

import numpy as np
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


# ------------------------------------------------------------ timm's ViT


class Mlp(nn.Module):
    def __init__(self, in_features, hidden_features, out_features=None, drop=0.0):
        super().__init__()
        out_features = out_features or in_features
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_features, out_features)
        self.drop = nn.Dropout(drop)

    def forward(self, x):
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class Attention(nn.Module):
    """timm's Attention, and T2T-ViT's transformer_block.Attention (the
    same but for qk_scale)."""

    def __init__(self, dim, num_heads, qkv_bias, qk_scale=None):
        super().__init__()
        self.num_heads = num_heads
        self.scale = qk_scale or (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(0.0)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(0.0)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        x = (self.attn_drop(attn) @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj(x))


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio, qkv_bias, eps, qk_scale=None):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, num_heads, qkv_bias, qk_scale)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, img_size, patch_size, in_chans, embed_dim):
        super().__init__()
        self.num_patches = (img_size // patch_size) ** 2
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class VisionTransformer(nn.Module):
    def __init__(self, img_size=224, patch_size=16, in_chans=3, num_classes=1000, embed_dim=768, depth=12,
                 num_heads=12, mlp_ratio=4.0, qkv_bias=True):
        super().__init__()
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        n = self.patch_embed.num_patches
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.randn(1, n + 1, embed_dim) * 0.02)
        self.pos_drop = nn.Dropout(0.0)
        self.blocks = nn.Sequential(*[Block(embed_dim, num_heads, mlp_ratio, qkv_bias, 1e-6) for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.head = nn.Linear(embed_dim, num_classes)

    def forward(self, x):
        x = self.patch_embed(x)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        x = self.blocks(self.pos_drop(x + self.pos_embed))
        return self.head(self.norm(x)[:, 0])


# ------------------------------------------------------------ T2T-ViT


def get_sinusoid_encoding(n_position, d_hid):
    def angles(pos):
        return [pos / np.power(10000, 2 * (j // 2) / d_hid) for j in range(d_hid)]

    table = np.array([angles(p) for p in range(n_position)])
    table[:, 0::2] = np.sin(table[:, 0::2])
    table[:, 1::2] = np.cos(table[:, 1::2])
    return torch.FloatTensor(table).unsqueeze(0)


class T2TAttention(nn.Module):
    """token_transformer.Attention: dim → in_dim, scale (dim/heads)^-1/2
    from the input width, v as the skip connection."""

    def __init__(self, dim, num_heads=1, in_dim=None):
        super().__init__()
        self.num_heads, self.in_dim = num_heads, in_dim
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, in_dim * 3, bias=False)
        self.attn_drop = nn.Dropout(0.0)
        self.proj = nn.Linear(in_dim, in_dim)
        self.proj_drop = nn.Dropout(0.0)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.in_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = self.attn_drop(((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1))
        x = self.proj_drop(self.proj((attn @ v).transpose(1, 2).reshape(B, N, self.in_dim)))
        return v.squeeze(1) + x


class Token_transformer(nn.Module):
    def __init__(self, dim, in_dim, num_heads=1, mlp_ratio=1.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = T2TAttention(dim, num_heads=num_heads, in_dim=in_dim)
        self.norm2 = nn.LayerNorm(in_dim)
        self.mlp = Mlp(in_dim, int(in_dim * mlp_ratio), in_dim)

    def forward(self, x):
        x = self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class Token_performer(nn.Module):
    def __init__(self, dim, in_dim, head_cnt=1, kernel_ratio=0.5, dp1=0.1, dp2=0.1):
        super().__init__()
        self.emb = in_dim * head_cnt
        self.kqv = nn.Linear(dim, 3 * self.emb)
        self.dp = nn.Dropout(dp1)
        self.proj = nn.Linear(self.emb, self.emb)
        self.head_cnt = head_cnt
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(self.emb)
        self.epsilon = 1e-8
        self.mlp = nn.Sequential(nn.Linear(self.emb, self.emb), nn.GELU(), nn.Linear(self.emb, self.emb), nn.Dropout(dp2))
        self.m = int(self.emb * kernel_ratio)
        self.w = torch.randn(self.m, self.emb)
        self.w = nn.Parameter(nn.init.orthogonal_(self.w) * math.sqrt(self.m), requires_grad=False)

    def prm_exp(self, x):
        xd = ((x * x).sum(dim=-1, keepdim=True)).repeat(1, 1, self.m) / 2
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


class T2T_module(nn.Module):
    def __init__(self, img_size=224, tokens_type="performer", in_chans=3, embed_dim=768, token_dim=64):
        super().__init__()
        self.soft_split0 = nn.Unfold(kernel_size=(7, 7), stride=(4, 4), padding=(2, 2))
        self.soft_split1 = nn.Unfold(kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))
        self.soft_split2 = nn.Unfold(kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))
        if tokens_type == "transformer":
            self.attention1 = Token_transformer(dim=in_chans * 7 * 7, in_dim=token_dim, num_heads=1, mlp_ratio=1.0)
            self.attention2 = Token_transformer(dim=token_dim * 3 * 3, in_dim=token_dim, num_heads=1, mlp_ratio=1.0)
        else:
            self.attention1 = Token_performer(dim=in_chans * 7 * 7, in_dim=token_dim, kernel_ratio=0.5)
            self.attention2 = Token_performer(dim=token_dim * 3 * 3, in_dim=token_dim, kernel_ratio=0.5)
        self.project = nn.Linear(token_dim * 3 * 3, embed_dim)
        self.num_patches = (img_size // (4 * 2 * 2)) * (img_size // (4 * 2 * 2))

    def forward(self, x):
        x = self.soft_split0(x).transpose(1, 2)
        x = self.attention1(x)
        B, hw, C = x.shape
        x = x.transpose(1, 2).reshape(B, C, int(np.sqrt(hw)), int(np.sqrt(hw)))
        x = self.soft_split1(x).transpose(1, 2)
        x = self.attention2(x)
        B, hw, C = x.shape
        x = x.transpose(1, 2).reshape(B, C, int(np.sqrt(hw)), int(np.sqrt(hw)))
        x = self.soft_split2(x).transpose(1, 2)
        return self.project(x)


class T2T_ViT(nn.Module):
    def __init__(self, img_size=224, tokens_type="performer", in_chans=3, num_classes=1000, embed_dim=768,
                 depth=12, num_heads=12, mlp_ratio=4.0, qkv_bias=False, qk_scale=None, token_dim=64):
        super().__init__()
        self.tokens_to_token = T2T_module(img_size=img_size, tokens_type=tokens_type, in_chans=in_chans,
                                          embed_dim=embed_dim, token_dim=token_dim)
        n = self.tokens_to_token.num_patches
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(data=get_sinusoid_encoding(n_position=n + 1, d_hid=embed_dim), requires_grad=False)
        self.pos_drop = nn.Dropout(0.0)
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads, mlp_ratio, qkv_bias, 1e-5, qk_scale) for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim)
        self.head = nn.Linear(embed_dim, num_classes)

    def forward(self, x):
        x = self.tokens_to_token(x)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        x = self.pos_drop(x + self.pos_embed)
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.norm(x)[:, 0])


# ------------------------------------------------------------ named configurations


NAMED = {
    "vit_tiny_patch16_224": lambda: VisionTransformer(embed_dim=192, depth=12, num_heads=3),
    "vit_small_patch16_224": lambda: VisionTransformer(embed_dim=384, depth=12, num_heads=6),
    "vit_base_patch16_224": lambda: VisionTransformer(embed_dim=768, depth=12, num_heads=12),
    "t2t_vit_7": lambda: T2T_ViT(tokens_type="performer", embed_dim=256, depth=7, num_heads=4, mlp_ratio=2.0),
    "t2t_vit_10": lambda: T2T_ViT(tokens_type="performer", embed_dim=256, depth=10, num_heads=4, mlp_ratio=2.0),
    "t2t_vit_12": lambda: T2T_ViT(tokens_type="performer", embed_dim=256, depth=12, num_heads=4, mlp_ratio=2.0),
    "t2t_vit_14": lambda: T2T_ViT(tokens_type="performer", embed_dim=384, depth=14, num_heads=6, mlp_ratio=3.0),
    "t2t_vit_19": lambda: T2T_ViT(tokens_type="performer", embed_dim=448, depth=19, num_heads=7, mlp_ratio=3.0),
    "t2t_vit_24": lambda: T2T_ViT(tokens_type="performer", embed_dim=512, depth=24, num_heads=8, mlp_ratio=3.0),
    "t2t_vit_t_14": lambda: T2T_ViT(tokens_type="transformer", embed_dim=384, depth=14, num_heads=6, mlp_ratio=3.0),
}


def param_counts():
    out = {}
    for name, make in NAMED.items():
        m = make()
        trainable = sum(p.numel() for p in m.parameters() if p.requires_grad)
        total = sum(p.numel() for p in m.parameters())
        state = [f"{k} {list(v.shape)}" for k, v in m.state_dict().items()]
        out[name] = {"trainable": trainable, "total": total, "state_dict": state}
    with open(os.path.join(HERE, "param_counts.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    return out


# ------------------------------------------------------------ goldens


def randomize(m):
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.Linear):
                mod.weight.normal_(0, mod.in_features ** -0.5)
                if mod.bias is not None:
                    mod.bias.normal_(0, 0.1)
            elif isinstance(mod, nn.LayerNorm):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.normal_(0, 0.5)
        if isinstance(m, VisionTransformer):
            m.cls_token.normal_(0, 0.5)
            m.pos_embed.normal_(0, 0.5)
        else:
            m.cls_token.normal_(0, 1)
    return m


def case(name, make, x):
    torch.manual_seed(0)
    m = randomize(make()).eval()
    out = dict(m.state_dict())
    m64 = copy.deepcopy(m).double()
    x64 = x.double().requires_grad_(True)
    logits = m64(x64)
    up = torch.randn(logits.shape, generator=torch.Generator().manual_seed(99))
    (logits * up.double()).sum().backward()
    out["io.x"] = x
    out["io.out.logits"] = logits.detach().float()
    out["io.up.logits"] = up
    out["io.grad.x"] = x64.grad.float()
    for pn, p in m64.named_parameters():
        if p.requires_grad:
            out["io.grad." + pn] = p.grad.float()
    save_file(out, os.path.join(HERE, name + ".safetensors"))
    return name


def images(*shape, seed):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def main():
    assert sys.byteorder == "little"
    counts = param_counts()
    for k, v in counts.items():
        print(f"{k}: {v['trainable']:,} trainable, {v['total']:,} in all")
    written = [
        case("vit_small_rgb", lambda: VisionTransformer(img_size=12, patch_size=4, in_chans=3, num_classes=5,
                                                        embed_dim=16, depth=2, num_heads=2, mlp_ratio=4.0),
             images(2, 3, 12, 12, seed=1)),
        case("vit_grey_nobias", lambda: VisionTransformer(img_size=28, patch_size=7, in_chans=1, num_classes=10,
                                                          embed_dim=12, depth=1, num_heads=3, mlp_ratio=2.0,
                                                          qkv_bias=False),
             images(2, 1, 28, 28, seed=2)),
        case("t2t_performer", lambda: T2T_ViT(img_size=32, tokens_type="performer", in_chans=1, num_classes=7,
                                              embed_dim=16, depth=2, num_heads=4, mlp_ratio=2.0, token_dim=8),
             images(2, 1, 32, 32, seed=3)),
        case("t2t_transformer_scale", lambda: T2T_ViT(img_size=32, tokens_type="transformer", in_chans=3,
                                                      num_classes=4, embed_dim=12, depth=2, num_heads=3,
                                                      mlp_ratio=3.0, qk_scale=12 ** -0.5, token_dim=8),
             images(2, 3, 32, 32, seed=4)),
    ]
    print("wrote param_counts.json and", len(written), "goldens:", ", ".join(written))


if __name__ == "__main__":
    main()

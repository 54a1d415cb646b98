#!/usr/bin/python3
"""PyTorch twins of bench/attn_test.go, same names and shapes, 2 threads.

Run with Debian's PyTorch (apt-get install python3-torch libopenblas0-pthread):
    /usr/bin/python3 bench/torch_attn.py --count 5
Prints one JSON object: benchmark name -> list of ns per op, one per run.

The modules are timm's Attention and Block and T2T-ViT's T2T_module
(Token_performer / Token_transformer), written out here with the same
structure (timm is not needed). Each training step is forward, backward of
the output's sum, and dropping the gradients (set to None), as in Go.
"""
import math

import torch
from torch import nn

import torchbench


class Attention(nn.Module):
    def __init__(self, dim, num_heads=8, qkv_bias=False, in_dim=None, qk_scale=None, v_skip=False):
        super().__init__()
        self.num_heads, self.in_dim, self.v_skip = num_heads, in_dim or dim, v_skip
        self.scale = qk_scale or (self.in_dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, self.in_dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(0.0)
        self.proj = nn.Linear(self.in_dim, self.in_dim)
        self.proj_drop = nn.Dropout(0.0)

    def forward(self, x):
        B, N, _ = x.shape
        h = self.num_heads
        qkv = self.qkv(x).reshape(B, N, 3, h, self.in_dim // h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
        attn = self.attn_drop(attn)
        y = self.proj_drop(self.proj((attn @ v).transpose(1, 2).reshape(B, N, self.in_dim)))
        if self.v_skip:
            y = v.transpose(1, 2).reshape(B, N, self.in_dim) + y
        return y


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio=4.0, qkv_bias=False, eps=1e-6):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, num_heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TokenTransformer(nn.Module):
    def __init__(self, dim, in_dim):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, 1, False, in_dim=in_dim, qk_scale=dim ** -0.5, v_skip=True)
        self.norm2 = nn.LayerNorm(in_dim)
        self.mlp = Mlp(in_dim, in_dim)

    def forward(self, x):
        x = self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TokenPerformer(nn.Module):
    def __init__(self, dim, in_dim, kernel_ratio=0.5, dp1=0.1, dp2=0.1):
        super().__init__()
        self.emb = in_dim
        self.kqv = nn.Linear(dim, 3 * self.emb)
        self.dp = nn.Dropout(dp1)
        self.proj = nn.Linear(self.emb, self.emb)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(self.emb)
        self.epsilon = 1e-8
        self.mlp = nn.Sequential(nn.Linear(self.emb, self.emb), nn.GELU(), nn.Linear(self.emb, self.emb), nn.Dropout(dp2))
        self.m = int(self.emb * kernel_ratio)
        self.w = nn.Parameter(nn.init.orthogonal_(torch.randn(self.m, self.emb)) * math.sqrt(self.m), requires_grad=False)

    def prm_exp(self, x):
        xd = ((x * x).sum(dim=-1, keepdim=True)).repeat(1, 1, self.m) / 2
        wtx = torch.einsum("bti,mi->btm", x.float(), self.w)
        return torch.exp(wtx - xd) / math.sqrt(self.m)

    def single_attn(self, x):
        k, q, v = torch.split(self.kqv(x), self.emb, dim=-1)
        kp, qp = self.prm_exp(k), self.prm_exp(q)
        D = torch.einsum("bti,bi->bt", qp, kp.sum(dim=1)).unsqueeze(dim=2)
        kptv = torch.einsum("bin,bim->bnm", v.float(), kp)
        y = torch.einsum("bti,bni->btn", qp, kptv) / (D.repeat(1, 1, self.emb) + self.epsilon)
        return v + self.dp(self.proj(y))

    def forward(self, x):
        x = self.single_attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class T2TModule(nn.Module):
    def __init__(self, tokens_type="performer", in_chans=3, embed_dim=768, token_dim=64):
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


def train_step(model, *shape):
    torch.manual_seed(1)
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(2), requires_grad=True)

    def f():
        model(x).sum().backward()
        model.zero_grad(set_to_none=True)
        x.grad = None
    return f


def vit_ti():
    return (16, 197, 192)


def attn_inference():
    torch.manual_seed(1)
    a = Attention(192, 3, True)
    x = torch.randn(*vit_ti(), generator=torch.Generator().manual_seed(2))

    def f():
        with torch.no_grad():
            a(x)
    return f


def t2t(tokens, batch, size):
    torch.manual_seed(1)
    return train_step(T2TModule(tokens, embed_dim=384), batch, 3, size, size)


BENCHES = {
    "AttnViTTi": lambda: train_step(Attention(192, 3, True), *vit_ti()),
    "AttnViTTiInference": attn_inference,
    "BlockViTTi": lambda: train_step(Block(192, 3, 4.0, True), *vit_ti()),
    "T2TPerformer64": lambda: t2t("performer", 16, 64),
    "T2TTransformer64": lambda: t2t("transformer", 16, 64),
    "T2TPerformer224": lambda: t2t("performer", 8, 224),
}

if __name__ == "__main__":
    torchbench.main(BENCHES)

"""Export PyTorch models to ONNX for `make corpus-torch`.

Models nobody on this project wrote, through an exporter nobody here wrote:
torchvision's architectures (random weights; BatchNormalization statistics
taken from random batches, so activations have a trained model's scale)
and small modules in the shapes PyTorch users write, at opsets 9 to 17,
with dynamic axes, with and without constant folding. Each file goes to
DEST/NAME.onnx; the script is deterministic (seeded) and idempotent.

Usage: python3 tools/torch/export.py DEST
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

tv = torchvision.models


class LSTMLM(nn.Module):
    def __init__(s, cell=nn.LSTM, bi=False):
        super().__init__()
        s.emb = nn.Embedding(100, 32)
        s.rnn = cell(32, 48, num_layers=2, batch_first=True, bidirectional=bi)
        s.fc = nn.Linear(96 if bi else 48, 100)

    def forward(s, x):
        y, _ = s.rnn(s.emb(x))
        return s.fc(y)


class Encoder(nn.Module):
    def __init__(s, norm_first=False):
        super().__init__()
        s.emb = nn.Embedding(1000, 64)
        layer = nn.TransformerEncoderLayer(64, 4, 128, batch_first=True, norm_first=norm_first, activation="gelu")
        s.enc = nn.TransformerEncoder(layer, 2)
        s.head = nn.Linear(64, 10)

    def forward(s, x, mask):
        return s.head(s.enc(s.emb(x), src_key_padding_mask=mask)[:, 0])


class GPTBlock(nn.Module):
    def __init__(s, d=64, h=4):
        super().__init__()
        s.ln1, s.ln2, s.h = nn.LayerNorm(d), nn.LayerNorm(d), h
        s.qkv, s.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        s.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(s, x):
        B, T, C = x.shape
        q, k, v = [t.view(B, T, s.h, C // s.h).transpose(1, 2) for t in s.qkv(s.ln1(x)).split(C, dim=2)]
        a = (q @ k.transpose(-2, -1)) / (C // s.h) ** 0.5
        a = a.masked_fill(~torch.tril(torch.ones(T, T, dtype=torch.bool)), float("-inf")).softmax(-1)
        x = x + s.proj((a @ v).transpose(1, 2).reshape(B, T, C))
        return x + s.mlp(s.ln2(x))


class GPT(nn.Module):
    def __init__(s):
        super().__init__()
        s.wte, s.wpe = nn.Embedding(500, 64), nn.Embedding(64, 64)
        s.blocks = nn.Sequential(GPTBlock(), GPTBlock())
        s.ln, s.head = nn.LayerNorm(64), nn.Linear(64, 500, bias=False)

    def forward(s, idx):
        pos = torch.arange(idx.shape[1]).unsqueeze(0)
        return s.head(s.ln(s.blocks(s.wte(idx) + s.wpe(pos))))


class UNet(nn.Module):
    def __init__(s):
        super().__init__()
        s.d1 = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.GroupNorm(4, 16), nn.SiLU())
        s.d2 = nn.Sequential(nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.InstanceNorm2d(32, affine=True), nn.ReLU())
        s.up, s.o = nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1), nn.Conv2d(32, 2, 1)

    def forward(s, x):
        a = s.d1(x)
        return s.o(torch.cat([a, s.up(s.d2(a))], 1))


class SuperRes(nn.Module):
    def __init__(s):
        super().__init__()
        s.c1, s.c2 = nn.Conv2d(1, 32, 5, padding=2), nn.Conv2d(32, 32, 3, padding=1, groups=4)
        s.c3, s.ps = nn.Conv2d(32, 9, 3, padding=1), nn.PixelShuffle(3)

    def forward(s, x):
        return s.ps(s.c3(F.prelu(s.c2(torch.tanh(s.c1(x))), torch.full((1,), 0.25))))


class Resample(nn.Module):
    def __init__(s):
        super().__init__()
        s.c, s.dw = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 5, stride=2, padding=2, groups=8)

    def forward(s, x):
        y = s.dw(F.relu6(s.c(x)))
        a = F.interpolate(y, scale_factor=2, mode="nearest")
        b = F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=True)
        c = F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=False)
        return a + b + c + F.adaptive_avg_pool2d(y, 1)


class Einsum(nn.Module):
    def __init__(s):
        super().__init__()
        s.w, s.ln = nn.Parameter(torch.randn(16, 8, 32)), nn.LayerNorm(512)

    def forward(s, x):
        return s.ln(torch.einsum("bsi,hij->bshj", x, s.w).flatten(2)).cumsum(1).topk(3, dim=-1)[0]


class Conv1dNet(nn.Module):
    def __init__(s):
        super().__init__()
        s.net = nn.Sequential(nn.Conv1d(40, 64, 5, padding=2), nn.BatchNorm1d(64), nn.Hardswish(),
                              nn.Conv1d(64, 64, 3, dilation=2, padding=2, groups=64), nn.LeakyReLU(0.1),
                              nn.MaxPool1d(2), nn.Conv1d(64, 32, 1), nn.ELU(), nn.AvgPool1d(2))
        s.fc = nn.Linear(32, 5)

    def forward(s, x):
        return s.fc(s.net(x).mean(-1)).log_softmax(-1)


class Loopy(nn.Module):
    def __init__(s):
        super().__init__()
        s.l = nn.Linear(8, 8)

    def forward(s, x, n: int):
        for _ in range(n):
            x = torch.tanh(s.l(x))
            if x.sum() > 0:
                x = x * 0.5
            else:
                x = x + 1.0
        return x


class FakeQuant(nn.Module):
    """QAT-style fake quantization: QuantizeLinear/DequantizeLinear pairs."""

    def __init__(s):
        super().__init__()
        s.c1 = nn.Conv2d(3, 16, 3, padding=1)
        s.c2 = nn.Conv2d(16, 16, 3, padding=1, groups=16)
        s.fc = nn.Linear(16, 10)

    def forward(s, x):
        def fq(t, sc):
            return torch.fake_quantize_per_tensor_affine(t, sc, 0, -128, 127)
        w = s.c1.weight
        w = torch.fake_quantize_per_channel_affine(w, w.detach().abs().amax((1, 2, 3)) / 127, torch.zeros(16, dtype=torch.int32), 0, -128, 127)
        y = fq(F.relu(F.conv2d(fq(x, 0.02), w, s.c1.bias, padding=1)), 0.05)
        y = fq(F.relu(s.c2(y)), 0.05)
        return s.fc(fq(y.mean((2, 3)), 0.05))


class TrainingBN(nn.Module):
    """Exported in training mode: BatchNormalization lists its statistics."""

    def __init__(s):
        super().__init__()
        s.c, s.bn, s.fc = nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Linear(8, 4)

    def forward(s, x):
        return s.fc(F.relu(s.bn(s.c(x))).mean((2, 3)))


class Misc(nn.Module):
    def __init__(s):
        super().__init__()
        s.e, s.c = nn.EmbeddingBag(50, 16, mode="mean"), nn.Conv2d(1, 4, 3)

    def forward(s, idx, img):
        a = s.e(idx)
        b = F.max_pool2d(s.c(img), 2, ceil_mode=True)
        b = torch.flip(b, [3]).roll(1, 2)
        c = torch.where(b > 0, b, b * 0.1).amax((2, 3))
        v, i = torch.sort(F.normalize(a, dim=1), dim=1, descending=True)
        return torch.cat([c, v[:, :4]], 1), i[:, :2], torch.argmax(a, 1)


class GridSampler(nn.Module):
    """A spatial transformer: an affine grid from the features, GridSample."""

    def __init__(s):
        super().__init__()
        s.c, s.t = nn.Conv2d(3, 8, 3, padding=1), nn.Linear(8, 6)

    def forward(s, x):
        y = s.c(x)
        th = s.t(y.mean((2, 3))).view(-1, 2, 3)
        b, _, h, w = y.shape
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
        base = torch.stack([xs, ys, torch.ones_like(xs)], -1).view(1, h * w, 3)
        g = (base @ th.transpose(1, 2)).view(b, h, w, 2)
        return F.grid_sample(y, g, mode="bilinear", padding_mode="border", align_corners=False)


class MHA(nn.Module):
    def __init__(s):
        super().__init__()
        s.a, s.n = nn.MultiheadAttention(32, 4, batch_first=True), nn.LayerNorm(32)

    def forward(s, x):
        y, w = s.a(x, x, x, need_weights=True)
        return s.n(x + y), w


class CausalAttention(nn.Module):
    def __init__(s):
        super().__init__()
        s.qkv, s.o = nn.Linear(32, 96), nn.Linear(32, 32)

    def forward(s, x):
        B, T, C = x.shape
        q, k, v = s.qkv(x).view(B, T, 3, 4, 8).permute(2, 0, 3, 1, 4)
        a = (q @ k.transpose(-2, -1) / 8 ** 0.5).masked_fill(torch.ones(T, T).triu(1) > 0, float("-inf")).softmax(-1)
        return s.o((a @ v).transpose(1, 2).reshape(B, T, C))


class Conv3dNet(nn.Module):
    def __init__(s):
        super().__init__()
        s.a = nn.Sequential(nn.Conv3d(2, 8, 3, padding=1), nn.BatchNorm3d(8), nn.ReLU(), nn.MaxPool3d(2),
                            nn.Conv3d(8, 8, (1, 3, 3), padding=(0, 1, 1), groups=8), nn.GroupNorm(2, 8), nn.GELU())
        s.up, s.ap = nn.ConvTranspose3d(8, 4, 2, stride=2), nn.AvgPool3d(2, ceil_mode=True)

    def forward(s, x):
        return s.ap(s.up(s.a(x)))


class Reductions(nn.Module):
    def __init__(s):
        super().__init__()
        s.l = nn.Linear(12, 12)

    def forward(s, x):
        a, b, c = s.l(x).split([4, 4, 4], -1)
        return a.mean(-1, keepdim=True) + b.sum(1, keepdim=True) - c.amax(-1, keepdim=True), F.softplus(c).logsumexp(-1)


class Norms(nn.Module):
    def __init__(s):
        super().__init__()
        s.c, s.ln, s.inorm, s.lrn = nn.Conv2d(3, 8, 3), nn.LayerNorm([8, 6, 6]), nn.InstanceNorm2d(8), nn.LocalResponseNorm(3)

    def forward(s, x):
        y = s.c(x)
        return s.lrn(s.inorm(s.ln(y))).clamp(-1, 1), F.pad(y, (1, 2, 0, 1), mode="reflect"), F.pad(y, (1, 1, 1, 1), mode="replicate")


class Indexing(nn.Module):
    def __init__(s):
        super().__init__()
        s.e = nn.Embedding(20, 6)

    def forward(s, x, i):
        y = s.e(i)
        z = torch.zeros(3, 6).index_add(0, torch.tensor([0, 2, 1]), y[0, :3])
        g = torch.gather(x, 1, i[:, :2].clamp(0, 4))
        nz = (x > 0).nonzero()
        return z.scatter(1, torch.tensor([[1], [0], [2]]), 5.0), g, nz.float().sum(0), x.masked_fill(x < 0, 0).cumsum(-1)


class Detections(nn.Module):
    """torchvision's detectors take a list of images and return dicts."""

    def __init__(s, m):
        super().__init__()
        s.m = m

    def forward(s, x):
        r = s.m([x])[0]
        return r["boxes"], r["scores"], r["labels"]


class Flow(nn.Module):
    def __init__(s, m):
        super().__init__()
        s.m = m

    def forward(s, a, b):
        return s.m(a, b, num_flow_updates=2)[-1]


def img(*shape):
    return torch.randn(*shape)


# name: (constructor, inputs, dynamic axes, opset, constant folding, export options)
MODELS = {
    "resnet18_op9": (tv.resnet18, [img(1, 3, 224, 224)], {"input0": {0: "batch"}}, 9, True, {}),
    "resnet18_op17_nofold": (tv.resnet18, [img(1, 3, 224, 224)], None, 17, False, {}),
    "mobilenet_v3_small_op11": (tv.mobilenet_v3_small, [img(1, 3, 224, 224)], {"input0": {0: "n"}}, 11, True, {}),
    "efficientnet_b0_op13": (tv.efficientnet_b0, [img(1, 3, 224, 224)], None, 13, True, {}),
    "shufflenet_v2_op9": (tv.shufflenet_v2_x0_5, [img(1, 3, 224, 224)], None, 9, True, {}),
    "squeezenet_op9": (tv.squeezenet1_1, [img(1, 3, 224, 224)], None, 9, True, {}),
    "googlenet_op11": (lambda: tv.googlenet(aux_logits=False, init_weights=True), [img(1, 3, 224, 224)], None, 11, True, {}),
    "regnet_y_400mf_op13": (tv.regnet_y_400mf, [img(1, 3, 224, 224)], None, 13, True, {}),
    "lraspp_op13": (lambda: tv.segmentation.lraspp_mobilenet_v3_large(weights_backbone=None), [img(1, 3, 256, 256)], None, 13, True, {}),
    "ssdlite_op13": (lambda: tv.detection.ssdlite320_mobilenet_v3_large(weights_backbone=None), [img(1, 3, 320, 320)], None, 13, True, {}),
    "fasterrcnn_op11": (lambda: Detections(tv.detection.fasterrcnn_mobilenet_v3_large_320_fpn(weights_backbone=None, box_score_thresh=0.0)), [img(3, 320, 320)], None, 11, True, {}),
    "raft_small_op16": (lambda: Flow(tv.optical_flow.raft_small()), [img(1, 3, 128, 128), img(1, 3, 128, 128)], None, 16, True, {}),
    "lstm_lm_op9": (LSTMLM, [torch.randint(0, 100, (2, 7))], {"input0": {0: "b", 1: "t"}}, 9, True, {}),
    "gru_bi_op11": (lambda: LSTMLM(nn.GRU, True), [torch.randint(0, 100, (2, 7))], {"input0": {0: "b", 1: "t"}}, 11, True, {}),
    "encoder_op13": (Encoder, [torch.randint(0, 1000, (2, 12)), torch.zeros(2, 12, dtype=torch.bool)], {"input0": {0: "b", 1: "s"}, "input1": {0: "b", 1: "s"}}, 13, True, {}),
    "encoder_prenorm_op17": (lambda: Encoder(True), [torch.randint(0, 1000, (2, 12)), torch.zeros(2, 12, dtype=torch.bool)], None, 17, True, {}),
    "gpt_op14_nofold": (GPT, [torch.randint(0, 500, (1, 16))], {"input0": {0: "b", 1: "t"}}, 14, False, {}),
    "unet_op17": (UNet, [img(1, 3, 64, 64)], {"input0": {0: "b", 2: "h", 3: "w"}}, 17, True, {}),
    "superres_op9": (SuperRes, [img(1, 1, 64, 64)], None, 9, True, {}),
    "resample_op11": (Resample, [img(1, 3, 32, 48)], None, 11, True, {}),
    "einsum_op12_nofold": (Einsum, [img(2, 5, 8)], None, 12, False, {}),
    "conv1d_op13": (Conv1dNet, [img(1, 40, 100)], {"input0": {0: "b", 2: "t"}}, 13, True, {}),
    "loop_if_op13": (lambda: torch.jit.script(Loopy()), [img(2, 8), 3], None, 13, True, {}),
    "fakequant_op13": (FakeQuant, [torch.rand(1, 3, 16, 16)], None, 13, True, {}),
    "training_bn_op13": (TrainingBN, [img(2, 3, 10, 10)], None, 13, False, {"training": torch.onnx.TrainingMode.TRAINING}),
    "misc_op11": (Misc, [torch.randint(0, 50, (3, 5)), img(3, 1, 9, 11)], None, 11, True, {}),
    # Session 29's: families the first list lacked (LayerNorm over permuted
    # channels, window attention and shifts, dense concatenation, factorized
    # and dilated convs, 3-D video convs, training-mode Dropout at ratio 0).
    "convnext_tiny_op13": (tv.convnext_tiny, [img(1, 3, 64, 64)], None, 13, True, {}),
    "swin_t_op17": (tv.swin_t, [img(1, 3, 64, 64)], None, 17, True, {}),
    "maxvit_t_op17": (tv.maxvit_t, [img(1, 3, 224, 224)], None, 17, True, {}),
    "vit_small_op14": (lambda: tv.VisionTransformer(64, 16, 2, 4, 128, 256, num_classes=10), [img(1, 3, 64, 64)], {"input0": {0: "b"}}, 14, True, {}),
    "densenet121_op11": (tv.densenet121, [img(1, 3, 64, 64)], None, 11, True, {}),
    "mnasnet_op10": (tv.mnasnet0_5, [img(1, 3, 96, 96)], None, 10, True, {}),
    "inception_v3_op12": (lambda: tv.inception_v3(aux_logits=False, init_weights=True), [img(1, 3, 299, 299)], None, 12, True, {}),
    "r3d_18_op13": (tv.video.r3d_18, [img(1, 3, 8, 56, 56)], None, 13, True, {}),
    "deeplabv3_mbv3_op16": (lambda: tv.segmentation.deeplabv3_mobilenet_v3_large(weights_backbone=None, aux_loss=False), [img(1, 3, 128, 128)], None, 16, True, {}),
    "effnet_v2_s_op15": (tv.efficientnet_v2_s, [img(1, 3, 96, 96)], None, 15, True, {}),
    "mobilenet_v2_op7": (tv.mobilenet_v2, [img(1, 3, 96, 96)], None, 7, True, {}),
    "gridsample_op16": (GridSampler, [img(2, 3, 12, 12)], None, 16, True, {}),
    "mha_op14": (MHA, [img(2, 5, 32)], {"input0": {0: "b", 1: "t"}}, 14, True, {}),
    "causal_attn_op17": (CausalAttention, [img(2, 6, 32)], None, 17, True, {}),
    "conv3d_op17": (Conv3dNet, [img(1, 2, 8, 8, 8)], None, 17, True, {}),
    "reductions_op17": (Reductions, [img(2, 3, 12)], {"input0": {0: "b"}}, 17, True, {}),
    "norms_op12": (Norms, [img(1, 3, 8, 8)], None, 12, True, {}),
    "indexing_op13": (Indexing, [img(3, 5), torch.randint(0, 5, (3, 4))], None, 13, True, {}),
}


def batchnorm_statistics(m, inputs):
    """Running statistics of random batches, as training would leave them."""
    bns = [x for x in m.modules() if isinstance(x, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    for b in bns:
        b.reset_running_stats()
        b.momentum = None
    m.train()
    with torch.no_grad():
        for _ in range(4):
            m(*[torch.randn(4, *t.shape[1:]) if t.is_floating_point() and t.dim() == 4 and t.shape[0] == 1 else t for t in inputs])


def main(dest):
    os.makedirs(dest, exist_ok=True)
    for name, (ctor, inputs, dynamic, opset, fold, opts) in MODELS.items():
        path = os.path.join(dest, name + ".onnx")
        if os.path.exists(path):
            continue
        torch.manual_seed(0)
        m = ctor()
        if not isinstance(m, torch.jit.ScriptModule) and not name.startswith(("ssdlite", "fasterrcnn")):
            batchnorm_statistics(m, inputs)
        if name.startswith("googlenet"):
            nn.init.normal_(m.fc.weight, std=0.05)  # init_weights leaves the head nearly flat
        training = opts.get("training") is not None
        m.train(training)
        names = [f"input{i}" for i in range(len(inputs))]
        tmp = path + ".tmp"
        torch.onnx.export(m, tuple(inputs), tmp, opset_version=opset, input_names=names,
                          dynamic_axes=dynamic, do_constant_folding=fold, **opts)
        os.replace(tmp, path)
        print(f"{name}: {os.path.getsize(path)} bytes", flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])

"""Training's AdamW is fused where every parameter allows it, and the fused update is AdamW's update."""

from __future__ import annotations

import torch

from rleseg.segmenters.base import fused_supported


def test_fused_where_every_parameter_is_floating_point_on_a_cpu_or_cuda() -> None:
    cpu = torch.nn.Linear(3, 2)
    assert fused_supported([{"params": list(cpu.parameters())}])
    meta = torch.nn.Linear(3, 2, device="meta")
    assert not fused_supported([{"params": list(cpu.parameters())}, {"params": list(meta.parameters())}])
    assert not fused_supported([{"params": []}])


def test_fused_and_default_adamw_take_the_same_steps() -> None:
    torch.manual_seed(0)
    a = torch.nn.Linear(8, 4)
    b = torch.nn.Linear(8, 4)
    b.load_state_dict(a.state_dict())
    opts = [
        torch.optim.AdamW(a.parameters(), lr=1e-2, weight_decay=0.05),
        torch.optim.AdamW(b.parameters(), lr=1e-2, weight_decay=0.05, fused=True),
    ]
    for _ in range(5):
        x = torch.randn(16, 8)
        for model, opt in zip((a, b), opts, strict=True):
            opt.zero_grad()
            model(x).square().mean().backward()
            opt.step()
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa, pb)

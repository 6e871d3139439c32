"""LoRA (low-rank adaptation, Hu et al. 2021) for any ``nn.Linear`` inside a frozen model, without peft.

A wrapped linear layer computes ``y = W x + b + (alpha / r) * B(A(dropout(x)))``: ``W``, ``b`` are the
pretrained (frozen) weights, ``A`` (r x in, Kaiming-uniform) and ``B`` (out x r, zeros, so training starts
from the pretrained function) are the only trained ones. ``add_lora`` wraps the layers whose qualified
names match glob patterns (``fnmatch``: ``*`` also crosses dots), ``lora_state_dict`` /
``load_lora_state_dict`` move the adapter alone, and ``merge_lora`` folds ``(alpha / r) * B @ A`` into
``W`` and puts plain ``nn.Linear`` layers back, so the merged model is an ordinary checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fnmatch import fnmatchcase

import torch
from torch import nn

LORA_KEYS = ("lora_a.weight", "lora_b.weight")  # a wrapped layer's adapter entries, after its qualified name


class LoRALinear(nn.Linear):
    """An ``nn.Linear`` sharing the weight and bias of ``base`` plus a trainable low-rank update.

    It stays an ``nn.Linear`` (same ``weight``/``bias`` parameters and state-dict keys), so code that reads
    ``layer.weight`` keeps working; ``lora_a`` / ``lora_b`` are added beside them.
    """

    def __init__(self, base: nn.Linear, rank: int, alpha: float, dropout: float = 0.0):
        if rank < 1:
            raise ValueError(f"LoRA rank must be >= 1, got {rank}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"LoRA dropout must be in [0, 1), got {dropout}")
        # Built on the meta device, then given base's own parameters: no second copy of W is allocated.
        super().__init__(base.in_features, base.out_features, bias=base.bias is not None, device="meta")
        self.weight = base.weight
        self.bias = base.bias
        self.rank, self.alpha = rank, float(alpha)
        self.scaling = self.alpha / rank
        factory = {"device": base.weight.device, "dtype": base.weight.dtype}
        self.lora_a = nn.Linear(base.in_features, rank, bias=False, **factory)
        self.lora_b = nn.Linear(rank, base.out_features, bias=False, **factory)
        self.lora_dropout = nn.Dropout(dropout)
        nn.init.kaiming_uniform_(self.lora_a.weight, a=math.sqrt(5))  # nn.Linear's own init, as in the paper's code
        nn.init.zeros_(self.lora_b.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., in_features) -> (..., out_features)."""
        update = self.lora_b(self.lora_a(self.lora_dropout(x)))
        return nn.functional.linear(x, self.weight, self.bias) + self.scaling * update

    def delta_weight(self) -> torch.Tensor:
        """(out, in) ``(alpha / r) * B @ A``: what merging adds to ``W``."""
        return self.scaling * (self.lora_b.weight @ self.lora_a.weight)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, rank={self.rank}, alpha={self.alpha:g}"


def lora_layers(model: nn.Module) -> dict[str, LoRALinear]:
    """The wrapped layers of ``model`` by qualified name, in module order."""
    return {name: module for name, module in model.named_modules() if isinstance(module, LoRALinear)}


def add_lora(model: nn.Module, targets: Sequence[str], rank: int, alpha: float, dropout: float = 0.0, *,
             freeze_base: bool = True) -> list[str]:
    """Wrap every ``nn.Linear`` whose qualified name matches one of the glob ``targets``; return their names.

    A pattern that matches no linear layer is a ValueError naming it (a typo would otherwise train
    nothing there). ``freeze_base``: every parameter but the new A and B stops requiring gradients.
    """
    if not targets:
        raise ValueError("LoRA needs at least one target pattern")
    linears = {name: module for name, module in model.named_modules()
               if type(module) is nn.Linear}  # exactly nn.Linear: an already wrapped layer is not wrapped again
    chosen: list[str] = []
    for pattern in targets:
        matched = [name for name in linears if fnmatchcase(name, pattern)]
        if not matched:
            raise ValueError(f"LoRA target {pattern!r} matches no nn.Linear of this {type(model).__name__} "
                             f"(e.g. {next(iter(linears), 'none')!r})")
        chosen.extend(name for name in matched if name not in chosen)
    if freeze_base:
        model.requires_grad_(False)
    for name in chosen:
        _replace(model, name, LoRALinear(linears[name], rank, alpha, dropout))
    return chosen


def lora_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The adapter alone: ``{"<layer>.lora_a.weight": A, "<layer>.lora_b.weight": B}`` (detached, shared storage)."""
    state = {}
    for name, layer in lora_layers(model).items():
        state[f"{name}.lora_a.weight"] = layer.lora_a.weight.detach()
        state[f"{name}.lora_b.weight"] = layer.lora_b.weight.detach()
    return state


def load_lora_state_dict(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Copy an adapter saved by ``lora_state_dict`` into ``model``'s wrapped layers (same names and shapes).

    ValueError naming the first few missing or unexpected entries, or a shape that differs.
    """
    own = lora_state_dict(model)
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    if missing or unexpected:
        raise ValueError(f"the adapter does not fit this model's LoRA layers (missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]})")
    with torch.no_grad():
        for key, target in own.items():
            if state[key].shape != target.shape:
                raise ValueError(f"adapter entry {key} has shape {tuple(state[key].shape)}, this model's "
                                 f"{tuple(target.shape)} (another rank or base model)")
            target.copy_(state[key].to(target.dtype))


def merge_lora(model: nn.Module) -> nn.Module:
    """Fold every adapter into its base weight and put plain ``nn.Linear`` layers back; returns ``model``."""
    with torch.no_grad():
        for name, layer in lora_layers(model).items():
            merged = nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None,
                               device=layer.weight.device, dtype=layer.weight.dtype)
            merged.weight.copy_(layer.weight + layer.delta_weight().to(layer.weight.dtype))
            if layer.bias is not None:
                merged.bias.copy_(layer.bias)
            merged.requires_grad_(layer.weight.requires_grad)
            _replace(model, name, merged)
    return model


def _replace(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)

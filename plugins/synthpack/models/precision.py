"""The one place that decides the number format models run in: bf16 or fp32.

bf16 halves memory traffic and, on CPUs with native bf16 instructions (Intel AMX, AVX512-BF16
on Intel and AMD), multiplies matrices several times faster than fp32. Where a CPU lacks them,
torch emulates bf16 and it is slower than fp32, so `auto` keeps fp32 there and says why.
The command line (or the demo) resolves it once and passes the `Precision` down to every path
that runs a language model (LLaMA-Factory training, generation, LM scoring, prefix tuning);
library callers that pass none get `default_precision()`.
"""

from __future__ import annotations

import functools
import os
import platform
from dataclasses import dataclass
from pathlib import Path

from synthpack.common.problems import unknown_name

PRECISIONS = ("auto", "bf16", "fp32")
PRECISION_ENV = "SYNTHPACK_PRECISION"  # overrides `auto` for every command of a shell
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")  # /proc/cpuinfo flags of native bf16 matmul
TORCH_DTYPES = {"bf16": "bfloat16", "fp32": "float32"}


@dataclass(frozen=True)
class Precision:
    """The chosen format (`bf16` or `fp32`) and, in words, why it was chosen."""

    name: str
    reason: str

    @property
    def dtype(self):
        """The torch dtype, for `from_pretrained(dtype=...)`."""
        import torch

        return getattr(torch, TORCH_DTYPES[self.name])

    @property
    def is_bf16(self) -> bool:
        return self.name == "bf16"

    def describe(self) -> str:
        return f"precision {self.name}: {self.reason}"


def _cpuinfo(cpuinfo: str | None) -> str:
    if cpuinfo is not None:
        return cpuinfo
    try:
        return Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:  # not Linux
        return ""


def _field(cpuinfo: str, name: str) -> str | None:
    """The first `name : value` of /proc/cpuinfo text."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return None


def cpu_bf16_flags(cpuinfo: str | None = None) -> list[str]:
    """The native-bf16 flags this CPU reports (from /proc/cpuinfo text; none off Linux)."""
    flags = set((_field(_cpuinfo(cpuinfo), "flags") or "").split())
    return [flag for flag in BF16_CPU_FLAGS if flag in flags]


def cpu_description(cpuinfo: str | None = None) -> str:
    """The CPU a timing came from, as `lscpu` names it, with its family and model (a KVM
    guest's name alone can hide which kind it is) and its native bf16, which decides the
    speed of training: 'Intel(R) Xeon(R) Processor (family 6, model 207), native bf16: none'."""
    text = _cpuinfo(cpuinfo)
    name = _field(text, "model name") or platform.processor() or platform.machine()
    family, model = _field(text, "cpu family"), _field(text, "model")
    kind = f" (family {family}, model {model})" if family and model else ""
    return f"{name}{kind}, native bf16: {', '.join(cpu_bf16_flags(text)) or 'none'}"


def torch_cpu_bf16() -> bool:
    """Whether torch's CPU kernels (oneDNN) run bf16 natively on this machine."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(
    choice: str | None = None,
    device: str = "cpu",
    cpuinfo: str | None = None,
    torch_ok: bool | None = None,
) -> Precision:
    """`auto` (or None: `$SYNTHPACK_PRECISION`, else auto), `bf16` or `fp32` for `device`.

    `cpuinfo` and `torch_ok` describe the CPU (read from this machine when None); tests pass
    them to ask what another machine would get.
    """
    choice = (choice or os.environ.get(PRECISION_ENV) or "auto").strip().lower()
    if choice not in PRECISIONS:
        raise unknown_name("precision", choice, list(PRECISIONS))
    if device.startswith("cuda"):
        import torch

        native = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        where = "this GPU"
    else:
        flags = cpu_bf16_flags(cpuinfo)
        torch_ok = torch_cpu_bf16() if torch_ok is None else torch_ok
        native = bool(flags) and torch_ok
        where = f"this CPU ({', '.join(flags)})" if native else "this CPU"
    if choice == "fp32":
        return Precision("fp32", "asked for")
    if choice == "bf16":
        note = "asked for" if native else f"asked for, but {where} emulates bf16: expect it slow"
        return Precision("bf16", note)
    if native:
        return Precision("bf16", f"auto: {where} multiplies bf16 natively")
    return Precision(
        "fp32",
        f"auto: {where} has no native bf16 ({' or '.join(BF16_CPU_FLAGS)}), so fp32 is faster",
    )


def default_precision() -> Precision:
    """This process's precision when nobody chose one: `$SYNTHPACK_PRECISION`, else auto,
    resolved once (per value of the variable) for the device models run on."""
    return _resolved(os.environ.get(PRECISION_ENV))


@functools.cache
def _resolved(choice: str | None) -> Precision:
    return resolve_precision(choice, model_device())


def as_precision(value: Precision | str | None) -> Precision:
    """A `Precision` as passed down; None is this process's default. A name (`bf16`, a
    library caller's or a test's) is resolved for this machine."""
    if isinstance(value, Precision):
        return value
    return default_precision() if value is None else resolve_precision(value, model_device())


def model_device() -> str:
    """`cuda` when a GPU is visible, else `cpu`: where synthpack puts the models it loads."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"

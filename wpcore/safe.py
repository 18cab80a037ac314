"""Loading files that may come from elsewhere, without ever running code from them.

Weights are read only from safetensors files (a header and raw tensors: nothing to execute).
A pickle-based PyTorch checkpoint is refused with a message, never unpickled.
"""
from __future__ import annotations

from pathlib import Path

import torch


class UnsafeFileError(ValueError):
    """The file is not a safetensors file (for instance a pickle) and is refused."""


def load_safetensors(path: str | Path, device: str = "cpu") -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(9)
    # safetensors: 8-byte little-endian header length, then a JSON header starting with "{"
    n = int.from_bytes(head[:8], "little") if len(head) >= 8 else 0
    looks_safetensors = 0 < n <= size - 8 and head[8:9] == b"{"
    if not looks_safetensors and (head[:1] == b"\x80" or head[:2] == b"PK"):
        raise UnsafeFileError(
            f"{path} is a pickle/zip PyTorch checkpoint; wpcore never unpickles files (they can run "
            "code). Convert it where you trust it: safetensors.torch.save_file(state_dict, 'x.safetensors')")
    try:
        return load_file(str(path), device=device)
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise UnsafeFileError(f"{path} is not a valid safetensors file ({e}); delete it or re-create it") from None

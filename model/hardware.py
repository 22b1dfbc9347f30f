"""What this CPU can do fast. Machines differ (AMD EPYC with or without avx512_bf16, Intel Xeon with AMX), and
the precision that pays on one is ruinous on another: on an AVX2-only CPU PyTorch bf16 matmuls are emulated and
ran ~50x slower than fp32 (1.2 vs 60.6 GFLOP/s measured), while with avx512_bf16 or AMX they are the fast path."""

from __future__ import annotations

import functools
import os
import platform

BF16_FLAGS = ("amx_bf16", "avx512_bf16")
REPORTED_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8", "avx_vnni")


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The flags line of /proc/cpuinfo (empty where there is none, e.g. macOS)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def has_fast_bf16() -> bool:
    """True where the CPU multiplies bf16 natively (AMX or avx512_bf16)."""
    return any(f in cpu_flags() for f in BF16_FLAGS)


def has_amx() -> bool:
    return "amx_tile" in cpu_flags()


def has_int8_dot() -> bool:
    """True where int8 dot products accumulate without 16-bit saturation (VNNI or AMX-INT8).

    Without them (AVX2 only), ONNX Runtime multiplies u8 x s8 with vpmaddubsw, whose pairwise int16 sums saturate
    at full-range weights; 7-bit weights (`reduce_range`) keep them exact, at a small cost in weight precision.
    """
    return any(f in cpu_flags() for f in ("avx512_vnni", "avx_vnni", "amx_int8"))


FEATURES = {"bf16": has_fast_bf16, "int8_dot": has_int8_dot}


def missing_features(required) -> list[str]:
    """The names in `required` (keys of FEATURES) this CPU lacks; unknown names count as missing."""
    return [name for name in required if not (name in FEATURES and FEATURES[name]())]


def describe() -> str:
    """One line for benches and build logs: CPU model, cores and the flags that decide the fast path."""
    flags = [f for f in REPORTED_FLAGS if f in cpu_flags()]
    fast = ("AMX" if has_amx() else "no AMX") + (", native bf16" if has_fast_bf16() else ", no native bf16") + \
        (", int8 dot products (VNNI/AMX)" if has_int8_dot() else ", no VNNI")
    return (f"{cpu_model()}, {os.cpu_count()} logical cores, flags: "
            f"{' '.join(flags) or 'none of ' + ','.join(REPORTED_FLAGS)} ({fast})")

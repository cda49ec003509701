"""cinesense: multimodal sentiment analysis of Chinese movie-review comments."""

__version__ = "0.1.0"

import os as _os
import platform as _platform


def _has_avx2() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            return any(line.startswith("flags") and " avx2" in line for line in handle)
    except OSError:
        return False


NUMERICS_ENV: dict[str, str] = {
    # The same numbers from the same command, however busy the machine: no thread count that
    # shrinks under load (OpenMP, MKL), and MKL's conditional numerical reproducibility mode.
    "OMP_DYNAMIC": "FALSE",
    "MKL_DYNAMIC": "FALSE",
}
if _platform.machine().lower() in ("x86_64", "amd64") and _has_avx2():
    # ... and on any x86-64 CPU with AVX2: MKL, oneDNN (the convolutions) and torch's own kernels
    # keep to AVX2 code paths, which an AVX-512 machine would otherwise replace with kernels that
    # round differently.
    NUMERICS_ENV.update({"MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"})
for _name, _value in NUMERICS_ENV.items():  # set before torch is imported; a value already set wins
    _os.environ.setdefault(_name, _value)



def __getattr__(name: str):
    """``from cinesense import Classifier`` imports torch and gensim only then: ``import cinesense.crawl``
    or ``cinesense --help`` does not."""
    if name == "Classifier":
        from cinesense.classifier import Classifier

        return Classifier
    raise AttributeError(f"module 'cinesense' has no attribute {name!r}")


__all__ = ["Classifier", "NUMERICS_ENV", "__version__"]

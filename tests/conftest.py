"""Shared fixtures: an offline, single-threaded environment and the two test models."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

# Set before torch or transformers are imported anywhere in the test session.
_CACHE = Path(tempfile.mkdtemp(prefix="synthpack-tests-"))
os.environ.update(
    {
        "OMP_NUM_THREADS": "1",  # two torch threads stall when the other core is busy
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_HOME": str(_CACHE / "hf"),
        "HF_DATASETS_CACHE": str(_CACHE / "datasets"),
        "SYNTHPACK_HOME": str(_CACHE / "synthpack"),
        "WANDB_DISABLED": "true",
        "DISABLE_VERSION_CHECK": "1",
        # Figures the tests compare were recorded in fp32, which every CPU computes alike;
        # the bf16 path has its own tests (tests/models/test_precision.py, the demo's
        # progress test), which ask for it explicitly.
        "SYNTHPACK_PRECISION": "fp32",
    }
)

import pytest  # noqa: E402

from synthpack.common.paths import pack_dir  # noqa: E402

# Pinned losses (torchtune's habit): the seeded tiny-model trainings in
# tests/train/test_yaml_pack.py, test_launch.py, test_prefix.py and
# tests/sft/test_sft_synthesis.py compare every logged loss with values recorded on 2026-12-06
# on an "Intel(R) Xeon(R) Processor" (lscpu: family 6, model 167, AVX-512; torch 2.14.1,
# transformers and LLaMA-Factory as pinned in pyproject.toml). Two runs gave the same bits;
# forcing the AVX2 kernels another CPU would use (ATEN_CPU_CAPABILITY=avx2
# MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2) moved them by at most 5e-7 (one fp32
# step at 6.4). They compare with abs=1e-4: 200 times that, and 40 to 80 times below the 0.004
# to 0.008 that another draw of the prefix table moved them. A relative 1e-3 (0.006) would be
# as wide as that: a random tiny model's losses all sit near ln(vocab size) = ln(600) = 6.40.
# A torch, transformers or LLaMA-Factory upgrade may move them: re-record, with the date.

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
FIXTURES = Path(__file__).resolve().parent / "fixtures"  # real model outputs, shared by folders


def pytest_sessionfinish(session, exitstatus):
    """The session's caches (about 1.8 GB: the prepared models) go with it; left behind, every
    `make test` filled the disk by that much."""
    shutil.rmtree(_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    from tiny_model import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"), pack_dir("dataset_info"))


@pytest.fixture(scope="session")
def smollm2() -> Path:
    """The embedded default, prepared once per session into the temporary SYNTHPACK_HOME."""
    from synthpack.models.embedded import prepare_model

    return prepare_model()


@pytest.fixture(scope="session")
def tiny_families(tmp_path_factory) -> dict[str, Path]:
    """Tiny random stand-ins for Llama-3, Llama-2 and Mistral (tests/tiny_families.py)."""
    from tiny_families import FAMILIES, build_tiny_family

    root = tmp_path_factory.mktemp("tiny-families")
    dataset_dir = pack_dir("dataset_info")
    return {name: build_tiny_family(root / name, name, dataset_dir) for name in FAMILIES}


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test when a fresh clone has no ../shared."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"real data not available: {path} is absent (it lives beside the repo in ../shared)"
        )
    return path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test not marked `integration` or `slow` is a `unit` test (pyproject.toml)."""
    for item in items:
        if not any(item.get_closest_marker(name) for name in ("integration", "slow")):
            item.add_marker(pytest.mark.unit)

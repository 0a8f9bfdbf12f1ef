"""Fuzzing the workload trace readers (Alibaba GPU v2023 pods and nodes, Azure LLM 2023, ServeGen, AcmeTrace)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import FIXTURES, REPO, fuzz_settings, head_of, outcome, write_case
from tests.fuzz.mutations import mutated, random_bytes
from wattbit.data.acmetrace import read_acmetrace_power_cdf
from wattbit.data.workload_traces import (
    read_alibaba_gpu_nodes,
    read_alibaba_gpu_pods,
    read_azure_llm_2023,
    read_servegen_client_rates,
)

W = FIXTURES / "workloads"
DEMO = REPO / "src" / "wattbit" / "demo" / "japan-2022" / "workload"
#: reader name -> (reader, seed bytes, file name the case is written as)
READERS: dict[str, tuple[Callable[[Path], Any], bytes, str]] = {
    "alibaba_gpu_pods": (read_alibaba_gpu_pods, (W / "openb_pod_list_sample.csv").read_bytes(), "openb_pod_list.csv"),
    "alibaba_gpu_nodes": (read_alibaba_gpu_nodes, (W / "openb_node_list_sample.csv").read_bytes(), "openb_node.csv"),
    "azure_llm_2023": (
        read_azure_llm_2023,
        (W / "AzureLLMInferenceTrace_code_sample.csv").read_bytes(),
        "AzureLLMInferenceTrace_code.csv",
    ),
    "servegen_client_rates": (
        read_servegen_client_rates,
        (W / "language_m-large_client_rates_sample.csv").read_bytes(),
        "language_m-large_client_rates.csv",
    ),
    "acmetrace_power_cdf": (
        read_acmetrace_power_cdf,
        head_of(DEMO / "acmetrace_gpu_power_kalos.csv.gz", 60),
        "gpu_power_kalos.csv",
    ),
}


def _case(name: str, raw: bytes) -> None:
    read, _, file_name = READERS[name]
    path = write_case(raw, file_name)
    outcome(name, lambda: read(path), path, time_series=False)


@st.composite
def damaged(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(READERS)))
    raw, header, encoding = READERS[name][1], 1, "utf-8"
    return name, draw(mutated(raw, header, encoding))


@fuzz_settings(2.5)
@given(damaged())
def test_mutated_trace_is_read_or_refused_with_its_place(case: tuple[str, bytes]) -> None:
    _case(*case)


@fuzz_settings(1.0)
@given(st.sampled_from(sorted(READERS)), random_bytes())
def test_random_bytes_as_a_trace(name: str, raw: bytes) -> None:
    _case(name, raw)


def test_seeds_are_read() -> None:
    for name, (read, raw, _) in READERS.items():
        path = write_case(raw, READERS[name][2])
        frame, _ = read(path)
        assert len(frame) > 0, name

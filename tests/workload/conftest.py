"""Real traces shared by the workload tests (read once per session)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from wattbit.data._base import SourceMeta
from wattbit.data.workload_traces import read_alibaba_gpu_pods, read_azure_llm_2023, read_servegen_client_rates
from wattbit.workload import InferenceDemand, TraceCalibration, calibration_from_alibaba, inference_from_servegen


@pytest.fixture(scope="session")
def pods(shared_data: Path) -> tuple[pd.DataFrame, SourceMeta]:
    return read_alibaba_gpu_pods(shared_data / "workloads/alibaba-gpu-v2023-openb/openb_pod_list_default.csv")


@pytest.fixture(scope="session")
def calibration(pods: tuple[pd.DataFrame, SourceMeta]) -> TraceCalibration:
    return calibration_from_alibaba(*pods)


@pytest.fixture(scope="session")
def azure_conv(shared_data: Path) -> tuple[pd.DataFrame, SourceMeta]:
    return read_azure_llm_2023(shared_data / "workloads/azure-llm-inference-2023/AzureLLMInferenceTrace_conv.csv")


@pytest.fixture(scope="session")
def azure_code(shared_data: Path) -> tuple[pd.DataFrame, SourceMeta]:
    return read_azure_llm_2023(shared_data / "workloads/azure-llm-inference-2023/AzureLLMInferenceTrace_code.csv")


@pytest.fixture(scope="session")
def servegen_small(shared_data: Path) -> InferenceDemand:
    path = shared_data / "workloads/alibaba-servegen-client-rates/language_m-small_client_rates.csv.gz"
    return inference_from_servegen(*read_servegen_client_rates(path))

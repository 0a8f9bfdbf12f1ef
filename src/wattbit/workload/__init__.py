"""AI workload: deferrable GPU jobs, LLM inference demand and serving capacity, from real traces or synthesised.

* :mod:`~wattbit.workload.jobs` — :class:`TrainingJobs` (structure of arrays), validation, Young-Daly interval;
* :mod:`~wattbit.workload.assumptions` — what a trace does not say (kinds, deadlines, checkpoints), as records;
* :mod:`~wattbit.workload.traces` — the Alibaba GPU trace v2023 as jobs in the simulated period;
* :mod:`~wattbit.workload.synthetic` — seeded jobs calibrated on that trace, for any fleet size;
* :mod:`~wattbit.workload.serving` — GPUs per replica and requests/s per replica within SLOs;
* :mod:`~wattbit.workload.inference` — request-rate demand from the Azure and ServeGen traces, in Japan time.

Every assumption and the trace facts behind it are listed in ``docs/workload.md``.
"""

from wattbit.workload.assumptions import JobAssumptions, KindRule, build_jobs
from wattbit.workload.inference import (
    InferenceDemand,
    diurnal_profile,
    inference_from_azure_llm,
    inference_from_servegen,
    weekly_shape,
)
from wattbit.workload.jobs import (
    FAILURES_PER_GPU_DAY,
    KIND_NAMES,
    JobKind,
    TrainingJobs,
    concat,
    validate,
    young_daly_interval_h,
)
from wattbit.workload.serving import (
    GPU_SERVING,
    MLPERF_INTERACTIVE_SLO,
    MLPERF_SERVER_SLO,
    ReplicaCapacity,
    ServedModel,
    Slo,
    gpus_per_replica,
    replica_capacity,
)
from wattbit.workload.synthetic import (
    TraceCalibration,
    calibration_from_alibaba,
    default_calibration,
    jobs_for_utilisation,
    offered_utilisation,
    synthesize_training_jobs,
)
from wattbit.workload.traces import ConversionReport, alibaba_pod_jobs, arrival_window_start_s, jobs_from_alibaba_pods

__all__ = [
    "FAILURES_PER_GPU_DAY",
    "GPU_SERVING",
    "KIND_NAMES",
    "MLPERF_INTERACTIVE_SLO",
    "MLPERF_SERVER_SLO",
    "ConversionReport",
    "InferenceDemand",
    "JobAssumptions",
    "JobKind",
    "KindRule",
    "ReplicaCapacity",
    "ServedModel",
    "Slo",
    "TraceCalibration",
    "TrainingJobs",
    "alibaba_pod_jobs",
    "arrival_window_start_s",
    "build_jobs",
    "calibration_from_alibaba",
    "concat",
    "default_calibration",
    "diurnal_profile",
    "gpus_per_replica",
    "inference_from_azure_llm",
    "inference_from_servegen",
    "jobs_for_utilisation",
    "jobs_from_alibaba_pods",
    "offered_utilisation",
    "replica_capacity",
    "synthesize_training_jobs",
    "validate",
    "weekly_shape",
    "young_daly_interval_h",
]

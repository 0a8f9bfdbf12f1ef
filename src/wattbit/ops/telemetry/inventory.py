"""The GPUs of a fleet as an exporter names them: node names, GPU indices, UUIDs, PCI bus ids and model names.

GPUs are numbered fleet-wide, site after site in scenario order and node by node inside a site (as
:class:`~wattbit.sim.faults.FailureEvents` numbers a site's GPUs). Node ``k`` (from 1) of site ``fukushima`` is
``fukushima-n0001``: the name the exporter puts in ``Hostname`` and the Slurm cluster of ``wattbit ops slurm`` gives
its nodes. UUIDs and PCI bus ids are made up, deterministic per site, node and GPU.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wattbit.ops.telemetry.names import MAX_SM_CLOCK_MHZ, MODEL_NAMES
from wattbit.physics.gpu import GpuModel

#: PCI bus numbers of the eight GPUs of an HGX baseboard (made up, in the range such systems use).
_PCI_BUSES = (0x18, 0x2A, 0x3A, 0x5D, 0x9A, 0xAB, 0xBA, 0xDB)


def node_name(site: str, node: int) -> str:
    """Host name of node ``node`` (0-based) of ``site``: ``site-n0001`` for the first."""
    return f"{site}-n{node + 1:04d}"


def gpu_uuid(site: str, node: int, gpu: int) -> str:
    """A stable made-up UUID of the form NVML reports (``GPU-8-4-4-4-12`` hex digits)."""
    h = hashlib.blake2b(f"{site}/{node}/{gpu}".encode(), digest_size=16).hexdigest()
    return f"GPU-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


@dataclass(frozen=True)
class Inventory:
    """Static facts of every GPU (arrays over GPUs unless noted).

    Attributes
    ----------
    site_names, models, liquid
        Per site: name, GPU model and whether its IT is liquid-cooled.
    site_offsets, site_gpus
        Per site: first fleet-wide GPU index and GPU count.
    site, node, gpu_index
        Per GPU: site index, fleet-wide node index, index inside its node (the exporter's ``gpu`` label).
    node_site, hostnames
        Per node: site index and host name.
    uuid, pci_bus_id
        Per GPU: the exporter's ``UUID`` and ``pci_bus_id`` labels.
    """

    site_names: tuple[str, ...]
    models: tuple[GpuModel, ...]
    liquid: NDArray[np.bool_]
    site_offsets: NDArray[np.int64]
    site_gpus: NDArray[np.int64]
    site: NDArray[np.int16]
    node: NDArray[np.int64]
    gpu_index: NDArray[np.int64]
    node_site: NDArray[np.int16]
    hostnames: NDArray[np.str_]
    uuid: NDArray[np.str_]
    pci_bus_id: NDArray[np.str_]

    @property
    def n_gpus(self) -> int:
        """GPUs in the fleet."""
        return int(self.site.shape[0])

    @property
    def n_nodes(self) -> int:
        """Nodes in the fleet."""
        return int(self.node_site.shape[0])

    def model_name(self, site: int) -> str:
        """NVML product name of a site's GPUs (``modelName``)."""
        return MODEL_NAMES.get(self.models[site].name, self.models[site].name)

    def max_sm_clock_mhz(self) -> NDArray[np.float64]:
        """Highest SM clock of every GPU [MHz]."""
        per_site = np.array([MAX_SM_CLOCK_MHZ.get(m.name, 1980.0) for m in self.models])
        return per_site[self.site]

    def per_gpu(self, per_site: NDArray[Any]) -> NDArray[Any]:
        """Spread a per-site array (last axis sites) to GPUs (last axis GPUs)."""
        return np.take(per_site, self.site, axis=-1)


def build_inventory(
    site_names: tuple[str, ...], models: tuple[GpuModel, ...], site_gpus: NDArray[np.int64], liquid: NDArray[np.bool_]
) -> Inventory:
    """Name every GPU of the fleet (vectorised except for the per-GPU label strings)."""
    gpus = np.asarray(site_gpus, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(gpus)[:-1]]).astype(np.int64)
    per_node = np.array([m.gpus_per_node for m in models], dtype=np.int64)
    nodes_per_site = -(-gpus // per_node)
    node_offsets = np.concatenate([[0], np.cumsum(nodes_per_site)[:-1]]).astype(np.int64)
    site = np.repeat(np.arange(len(gpus), dtype=np.int16), gpus)
    local = np.arange(int(gpus.sum()), dtype=np.int64) - offsets[site]
    local_node = local // per_node[site]
    node = node_offsets[site] + local_node
    gpu_index = local % per_node[site]
    node_site = np.repeat(np.arange(len(gpus), dtype=np.int16), nodes_per_site)
    hostnames = np.array(
        [node_name(site_names[s], int(k)) for s, n in enumerate(nodes_per_site) for k in range(int(n))], dtype=str
    )
    uuid = np.array(
        [gpu_uuid(site_names[s], int(k), int(g)) for s, k, g in zip(site.tolist(), local_node, gpu_index, strict=True)],
        dtype=str,
    )
    pci = np.array([f"00000000:{_PCI_BUSES[int(g) % 8]:02X}:00.0" for g in gpu_index], dtype=str)
    return Inventory(
        site_names=tuple(site_names),
        models=tuple(models),
        liquid=np.asarray(liquid, dtype=bool),
        site_offsets=offsets,
        site_gpus=gpus,
        site=site,
        node=node,
        gpu_index=gpu_index,
        node_site=node_site,
        hostnames=hostnames,
        uuid=uuid,
        pci_bus_id=pci,
    )

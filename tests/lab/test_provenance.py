"""Provenance names the machine a result was computed on: the CPU model and torch's SIMD level."""
import torch

from flowlab.lab import provenance


def test_provenance_records_the_cpu_and_torch_capability(monkeypatch):
    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    cpu = provenance.provenance("quick", 0, "cpu")["cpu"]
    assert cpu["torch_capability"] == torch.backends.cpu.get_cpu_capability()
    assert isinstance(cpu["model"], str) and cpu["model"]
    assert "aten_cpu_capability" not in cpu
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")
    assert provenance.provenance("quick", 0, "cpu")["cpu"]["aten_cpu_capability"] == "avx2"


def test_cpu_model_comes_from_cpuinfo_or_platform(tmp_path, monkeypatch):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Test CPU @ 3.00GHz\nflags\t: avx\n")
    assert provenance.cpu_info(info)["model"] == "Test CPU @ 3.00GHz"
    monkeypatch.setattr(provenance.platform, "processor", lambda: "arm")
    assert provenance.cpu_info(tmp_path / "absent")["model"] == "arm"

"""`make lab` starts JupyterLab on the notebooks from the project's environment, as root too (the
container and cloud-VM case, where jupyter refuses root without --allow-root), with the project's
kernel installed: the test starts it, fetches /lab (200) and stops it."""
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_make_lab_serves_lab_with_the_project_kernel():
    port, token = _free_port(), secrets.token_hex(8)
    args = f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token={token}"
    server = subprocess.Popen(["make", "-s", "lab", f"LAB_ARGS={args}"], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    status, deadline = None, time.monotonic() + 600  # the first call installs the lab extra
    try:
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={token}", timeout=5) as r:
                    status = r.status
                    break
            except OSError:
                time.sleep(1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/kernelspecs?token={token}", timeout=5) as r:
            specs = json.load(r)["kernelspecs"]
    except OSError as err:
        pytest.fail(f"make lab did not serve /lab (as uid {os.getuid()}): {err}")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            out = server.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            out = server.communicate()[0]
    assert status == 200, out[-3000:]
    assert specs["flowlab"]["spec"]["display_name"] == "flowlab (Python 3)", sorted(specs)
    notebook = json.loads((ROOT / "notebooks" / "01_change_of_variables.ipynb").read_text())
    assert notebook["metadata"]["kernelspec"]["name"] == "flowlab"   # the notebooks open on that kernel

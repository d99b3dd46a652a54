"""environment.yml mirrors pyproject.toml: the same packages, the same lower bounds."""
import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"torch": "pytorch"}  # pip name -> conda-forge name


def requirement(spec):
    name, bound = re.match(r"([A-Za-z0-9_.\-]+)\s*(.*)", spec).groups()
    return name.lower(), bound.replace(" ", "")


def test_environment_yml_mirrors_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = dict(requirement(s) for s in project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted.update(requirement(s) for s in extra)
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    listed = {}
    for dep in env["dependencies"]:
        for spec in dep["pip"] if isinstance(dep, dict) else [dep]:
            if spec.startswith("-e") or spec in ("pip",) or spec.startswith("python"):
                continue
            name, bound = requirement(spec)
            listed[name] = bound
    expected = {CONDA_NAMES.get(n, n): b for n, b in wanted.items()}
    assert listed == expected

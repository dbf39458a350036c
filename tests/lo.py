"""LibreOffice headless helpers for tests: convert with a private profile, count colours in pages."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

_XCU = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


def soffice() -> str:
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if not exe or not shutil.which("pdftoppm"):
        if os.environ.get("CI"):
            pytest.fail("LibreOffice and poppler must be installed in CI (.ci/run installs them)")
        pytest.skip("LibreOffice (soffice) or pdftoppm is not installed")
    return exe


def profile(tmp: Path) -> Path:
    """A LibreOffice user profile that recalculates OOXML formulas on load."""
    user = tmp / "lo-profile" / "user"
    user.mkdir(parents=True, exist_ok=True)
    (user / "registrymodifications.xcu").write_text(_XCU, encoding="utf-8")
    return tmp / "lo-profile"


def convert(path: Path, fmt: str, outdir: Path) -> Path:
    """Open `path` in LibreOffice and save it as `fmt` (pdf, xlsx, csv…); fail on any error."""
    exe = soffice()
    outdir.mkdir(parents=True, exist_ok=True)
    prof = profile(outdir)
    res = subprocess.run([exe, f"-env:UserInstallation=file://{prof}", "--headless", "--norestore",
                          "--convert-to", fmt, "--outdir", str(outdir), str(path)],
                         capture_output=True, text=True, timeout=180)
    out = outdir / (path.stem + "." + fmt.split(":")[0])
    assert res.returncode == 0 and out.exists(), f"LibreOffice could not open {path.name}: {res.stdout} {res.stderr}"
    return out


def pages(pdf: Path, dpi: int = 40) -> list[np.ndarray]:
    """Every page of a PDF as an RGB array (pdftoppm's PPM output: no imaging library needed)."""
    prefix = pdf.with_suffix("")
    subprocess.run(["pdftoppm", "-r", str(dpi), str(pdf), str(prefix)], check=True, timeout=180)
    out = []
    for f in sorted(pdf.parent.glob(prefix.name + "-*.ppm")):
        data = f.read_bytes()
        magic, w, h, maxval, rest = data.split(maxsplit=4)
        w, h = int(w), int(h)
        out.append(np.frombuffer(rest[-w * h * 3:], dtype=np.uint8).reshape(h, w, 3))
    return out


def count_color(images: list[np.ndarray], color: str, tol: int = 24) -> int:
    rgb = np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)])
    return int(sum((np.abs(img.astype(int) - rgb).sum(axis=2) <= tol).sum() for img in images))

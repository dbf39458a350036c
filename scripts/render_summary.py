"""Render a workbook's Summary sheet to PNG through LibreOffice: `python scripts/render_summary.py BOOK.xlsm OUT.png`.

LibreOffice exports the workbook with one PDF page per sheet; the page titled "LeadQ — Summary" is
turned into a PNG by pdftoppm. Used for the README's picture (and to look at the sheet as a
manager would).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def render(book: Path, out_png: Path, dpi: int = 70) -> Path:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if not soffice or not shutil.which("pdftoppm"):
        raise SystemExit("needs LibreOffice and poppler: apt-get install libreoffice-calc poppler-utils")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        copy = tmp / "book.xlsx"
        shutil.copyfile(book, copy)
        fmt = 'pdf:calc_pdf_Export:{"SinglePageSheets":{"type":"boolean","value":"true"}}'
        subprocess.run([soffice, f"-env:UserInstallation=file://{tmp / 'profile'}", "--headless", "--convert-to", fmt,
                        "--outdir", str(tmp), str(copy)], check=True, capture_output=True, timeout=180)
        pdf = tmp / "book.pdf"
        page = next(i for i in range(1, 40) if "LeadQ — Summary" in subprocess.run(
            ["pdftotext", "-f", str(i), "-l", str(i), str(pdf), "-"], capture_output=True, text=True).stdout[:200])
        subprocess.run(["pdftoppm", "-r", str(dpi), "-png", "-singlefile", "-f", str(page), "-l", str(page), str(pdf),
                        str(tmp / "page")], check=True, timeout=120)
        out_png.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tmp / "page.png", out_png)
    return out_png


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    print(render(Path(sys.argv[1]), Path(sys.argv[2])))

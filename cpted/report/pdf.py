"""Print: the A4 print style of the reports, and ``report.pdf`` written with headless Chromium.

The reports print cleanly from a browser (:data:`PRINT_CSS`: A4 pages, each map whole on a page, table
rows never cut, no dark backgrounds, folded details printed open). :func:`write_pdf` prints an HTML file to PDF with Chromium,
the browser the tests already drive; it is an optional tool, looked up when a PDF is asked for.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from cpted.atomic import atomic_path
from cpted.errors import MissingDependencyError

__all__ = ["PRINT_CSS", "PRINT_SCRIPT", "chromium", "write_pdf"]

#: The print style shared by the site report and the overview page (A4, 12 mm margins).
PRINT_CSS = """
@page{size:A4;margin:12mm}
@media print{
body{margin:0;max-width:none;font-size:10pt;color:#000;background:#fff}
h1,h2,h3{break-after:avoid;page-break-after:avoid}
h2{margin-top:1rem}
table{width:100%;font-size:8.5pt;break-inside:auto}
tr,td,th{break-inside:avoid;page-break-inside:avoid}
thead{display:table-header-group}
td,th{overflow-wrap:break-word}
th{background:none!important}
figure,img{break-inside:avoid;page-break-inside:avoid}
.maps figure{margin:0 0 6mm}
.maps img{width:100%;height:auto;max-height:240mm;object-fit:contain}
.maps .unscored{background:none;border-left:3px solid #999}
.bar,.bar span{-webkit-print-color-adjust:exact;print-color-adjust:exact}
a{color:#000;text-decoration:none}
details::details-content{content-visibility:visible;display:block}
}
"""

#: Opens every folded ``<details>`` (a site's counts and notes) for printing and folds it again after,
#: for browsers without the ``::details-content`` rule of :data:`PRINT_CSS`.
PRINT_SCRIPT = (
    "<script>addEventListener('beforeprint',()=>document.querySelectorAll('details:not([open])').forEach("
    "d=>{d.open=true;d.dataset.printOpened='1'}));addEventListener('afterprint',()=>document.querySelectorAll("
    "'details[data-print-opened]').forEach(d=>{d.open=false;delete d.dataset.printOpened}))</script>"
)

_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium() -> str:
    """The path of a Chromium (or Chrome) executable on PATH.

    Raises
    ------
    MissingDependencyError
        When there is none, naming the fix.
    """
    for name in _NAMES:
        found = shutil.which(name)
        if found:
            return found
    msg = ("writing PDF reports needs Chromium, which is not on PATH: install it (Debian/Ubuntu: "
           "`apt-get install chromium`), or run without --pdf (pdf=False) and print report.html from a browser")
    raise MissingDependencyError(msg)


def write_pdf(html_path: str | Path, pdf_path: str | Path, *, timeout: float = 180.0) -> Path:
    """Print the HTML file ``html_path`` to the PDF ``pdf_path`` (A4) with headless Chromium, atomically.

    Chromium runs with a fresh profile, without network services, extensions or a sandbox
    (as in containers), and resolves no host name: the reports are self-contained, nothing is fetched.

    Example
    -------
    >>> write_pdf("report.html", "report.pdf")  # doctest: +SKIP
    PosixPath('report.pdf')
    """
    html_path, pdf_path = Path(html_path), Path(pdf_path)
    exe = chromium()
    with tempfile.TemporaryDirectory(prefix="cpted-chromium-") as profile, atomic_path(pdf_path) as tmp:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
               "--disable-component-update", "--disable-sync", "--disable-extensions", "--host-resolver-rules=MAP * ~NOTFOUND",
               f"--user-data-dir={profile}",
               "--no-pdf-header-footer", f"--print-to-pdf={tmp}", html_path.resolve().as_uri()]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            msg = f"Chromium took more than {timeout:g} s to print {html_path} to PDF"
            raise RuntimeError(msg) from exc
        if done.returncode != 0 or not tmp.exists() or tmp.stat().st_size == 0:
            msg = f"Chromium could not print {html_path} to PDF (exit {done.returncode}): {done.stderr.strip()[-500:]}"
            raise RuntimeError(msg)
    return pdf_path

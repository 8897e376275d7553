#!/usr/bin/env bash
# Make the Python environment the QGIS plugin is tested and run in (Debian 12 / Ubuntu).
#
#   qgis_plugin/scripts/qgis_env.sh [VENV]      (default: .qgis-venv in the project root)
#
# The venv is made from Debian's /usr/bin/python3 (the Python QGIS 3.22 embeds) with
# --system-site-packages, so it sees `qgis` and `processing`. Inside QGIS Desktop and
# qgis_process, QGIS has already loaded Debian's GDAL, PROJ and GEOS, and the manylinux wheels of
# shapely, pyproj, pyogrio and rasterio would then call the wrong library versions (crashes, or a
# silent GDAL 3.6): so these four are built from source against Debian's libraries (~6 min on
# 2 cores). numpy < 2 and pandas < 3 keep Debian's numpy-1 builds of scipy, matplotlib and
# osgeo.gdal_array working; attrs >= 23.2 is what affine 3 (rasterio) needs.
# The same recipe is how a Debian/Ubuntu user installs cpted for the plugin (docs/qgis.md).
# Needs, from apt: qgis python3-venv python3-dev build-essential libgdal-dev libgeos-dev libproj-dev proj-bin
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
VENV="${1:-$ROOT/.qgis-venv}"

/usr/bin/python3 -c "import qgis.core" || {
  echo "Debian's QGIS Python bindings are missing: apt-get install --no-install-recommends qgis python3-venv" >&2
  exit 1
}
[ -x "$VENV/bin/python" ] || /usr/bin/python3 -m venv --system-site-packages "$VENV"
PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
PINS=('numpy<2' 'pandas<3' 'geopandas<1.2' 'attrs>=23.2')
# never a wheel of these four, also when they come in as dependencies (geopandas pulls shapely, pyogrio)
export PIP_NO_BINARY=shapely,pyogrio,rasterio,pyproj
"${PIP[@]}" -U pip setuptools wheel
# pyproj 3.7 needs PROJ 9.2; Debian 12 has 9.1.
# A pyproj 3.6 built with Cython 3.1 fails at run time ("expected bytes, str found"): constrain its build
# environment (--build-constraint for recent pips, PIP_CONSTRAINT for older ones), and skip the wheel
# cache so an earlier bad build is not reused.
BUILD_CONSTRAINTS="$(mktemp)"
trap 'rm -f "$BUILD_CONSTRAINTS"' EXIT
echo 'cython<3.1' > "$BUILD_CONSTRAINTS"
BUILD=(--build-constraint "$BUILD_CONSTRAINTS")
"$VENV/bin/python" -m pip install --help | grep -q -- --build-constraint || BUILD=()
PROJ_DIR=/usr PIP_CONSTRAINT="$BUILD_CONSTRAINTS" "${PIP[@]}" "${BUILD[@]}" --no-cache-dir 'pyproj>=3.6,<3.7'
# (their build environments take numpy 2, whose builds also run on numpy 1)
"${PIP[@]}" \
  'shapely>=2.0' 'pyogrio>=0.7' 'rasterio>=1.3' 'pyproj>=3.6,<3.7' "${PINS[@]}"
# cpted itself, then the plugin tests' tools; the pins again so nothing upgrades past them
"${PIP[@]}" -e "$ROOT" 'pytest>=7' 'pytest-qgis==5.0.2' mock \
  'pyproj>=3.6,<3.7' "${PINS[@]}"
GEOS="$(geos-config --version)" GDAL="$(gdal-config --version)" "$VENV/bin/python" - <<'PY'
import os
import qgis.core, shapely, pyproj, pyogrio, rasterio, geopandas, numba, cpted
built = {"shapely (GEOS)": (shapely.geos_version_string, os.environ["GEOS"]),
         "pyogrio (GDAL)": (pyogrio.__gdal_version_string__, os.environ["GDAL"]),
         "rasterio (GDAL)": (rasterio.__gdal_version__, os.environ["GDAL"])}
wrong = {k: v for k, v in built.items() if not v[1].startswith(v[0].split("-")[0])}
pyproj.CRS("EPSG:2154")  # a bad pyproj build fails here ("expected bytes, str found")
if wrong:
    raise SystemExit(f"not built against Debian's libraries (a wheel was used): {wrong}")
print("QGIS", qgis.core.Qgis.QGIS_VERSION, "| GEOS", shapely.geos_version_string, "| PROJ", pyproj.proj_version_str,
      "| GDAL (pyogrio)", pyogrio.__gdal_version_string__, "| GDAL (rasterio)", rasterio.__gdal_version__,
      "| geopandas", geopandas.__version__, "| cpted", cpted.__version__)
PY

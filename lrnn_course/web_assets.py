"""The JavaScript and CSS that the decks and the course site load, vendored from npm so that pages work offline.

Glossary (plumbing; no paper symbol):

==================  ==========================================================================
pinned package      one entry of ``PACKAGES``: an npm package at one version, with the sha512
                    ``integrity`` that registry.npmjs.org publishes for its tarball
cache               ``$XDG_CACHE_HOME/lrnn-course/npm`` (``~/.cache/...``): each tarball is
                    downloaded once, verified, and reused from there
vendored folder     ``<out_dir>/_assets/<name>/``: the files of the package that pages load
                    (``PinnedPackage.files``) and its licence, nothing else
``MATHJAX_CONFIG``  the MathJax 2 configuration the pages load: TeX input, SVG output (no web
                    fonts, so it renders the same from ``file://`` in any browser), ``Safe``
==================  ==========================================================================

``vendor(out_dir, "reveal.js", "mathjax")`` is all a page builder calls; it references the returned
folders by relative URLs (``relative_url``), so a built folder works opened as ``file://`` and after it
is copied elsewhere. Downloads go only to the npm registry (``npm_config_registry`` names a mirror, as
for npm itself), and a tarball whose sha512 differs from the pinned one is refused.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

DEFAULT_REGISTRY = "https://registry.npmjs.org"
ASSETS_FOLDER = "_assets"
DOWNLOAD_TIMEOUT_S = 60
MATHJAX_CONFIG = "TeX-AMS_SVG-full,Safe"


@dataclass(frozen=True)
class PinnedPackage:
    """An npm package at one version: its tarball's integrity and the files pages need from it.

    ``files`` are patterns of paths relative to the package's root: ``*`` matches within one folder,
    ``**`` across folders.
    """

    name: str
    version: str
    integrity: str
    files: tuple[str, ...]
    licence: str = "LICENSE"

    @property
    def tarball_name(self) -> str:
        return f"{self.name.rsplit('/', 1)[-1]}-{self.version}.tgz"


PACKAGES = {
    package.name: package
    for package in (
        PinnedPackage(
            "reveal.js",
            "5.2.1",
            "sha512-r7//6mIM5p34hFiDMvYfXgyjXqGRta+/psd9YtytsgRlrpRzFv4RbH76TXd2qD+7ZPZEbpBDhdRhJaFgfQ7zNQ==",
            # the two themes whose fonts ship in the package (others import fonts from Google's servers)
            files=(
                "dist/reveal.js",
                "dist/reveal.css",
                "dist/theme/white.css",
                "dist/theme/black.css",
                "dist/theme/fonts/source-sans-pro/*",
                "plugin/notes/notes.js",
            ),
        ),
        PinnedPackage(
            "mathjax",
            "2.7.9",  # the last MathJax 2, whose API (MathJax.Hub) nbconvert's templates call
            "sha512-NOGEDTIM9+MrsqnjPEjVGNx4q0GQxqm61yQwSK+/5S59i26wId5IC5gNu9/bu8+CCVl5p9G2IHcAl/wJa+5+BQ==",
            files=(
                "MathJax.js",
                "config/TeX-AMS_SVG-full.js",
                "config/Safe.js",
                "extensions/*.js",  # not extensions/a11y (3.7 MB), which only the menu's accessibility items load
                "extensions/TeX/**",
                "jax/input/TeX/*",
                "jax/element/**",
                "jax/output/SVG/config.js",
                "jax/output/SVG/jax.js",
                "jax/output/SVG/autoload/*",
                "jax/output/SVG/fonts/TeX/**",
                "localization/en/*",
            ),
        ),
    )
}


class AssetUnavailable(RuntimeError):
    """A pinned package is neither in the cache nor downloadable, or its download is not the pinned tarball."""


def default_cache() -> Path:
    """Where verified tarballs are kept: ``$XDG_CACHE_HOME/lrnn-course/npm`` (``~/.cache/lrnn-course/npm``)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lrnn-course" / "npm"


def sha512_integrity(data: bytes) -> str:
    """The Subresource Integrity string of ``data`` (``sha512-<base64>``), as npm's ``dist.integrity`` spells it."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def tarball_url(package: PinnedPackage) -> str:
    registry = (os.environ.get("npm_config_registry") or DEFAULT_REGISTRY).rstrip("/")
    return f"{registry}/{package.name}/-/{package.tarball_name}"


def verified_tarball(package: PinnedPackage, cache: Path) -> Path:
    """The cached tarball of ``package``, downloaded first if the cache lacks it (or holds other bytes)."""
    cached = cache / package.tarball_name
    if cached.is_file() and sha512_integrity(cached.read_bytes()) == package.integrity:
        return cached
    url = tarball_url(package)
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            data = response.read()
    except (urllib.error.URLError, OSError) as error:
        raise AssetUnavailable(
            f"{package.name} {package.version} is not in the cache ({cached}) and could not be downloaded from "
            f"{url}: {error}. Build once with access to the npm registry (or set npm_config_registry to a mirror), "
            f"or copy {package.tarball_name} into {cache}."
        ) from error
    found = sha512_integrity(data)
    if found != package.integrity:
        raise AssetUnavailable(f"refusing {url}: its sha512 integrity is {found}, not the pinned {package.integrity}")
    cache.mkdir(parents=True, exist_ok=True)
    # a reader never sees half a tarball, and two processes downloading at once (pytest -n 2) never share one
    partial = cached.with_name(f"{cached.name}.{os.getpid()}.partial")
    partial.write_bytes(data)
    partial.replace(cached)
    return cached


def path_pattern(pattern: str) -> re.Pattern[str]:
    """A ``PinnedPackage.files`` pattern as a regular expression for a whole path."""
    wildcards = {"**": ".*", "*": "[^/]*"}
    return re.compile("".join(wildcards.get(part, re.escape(part)) for part in re.split(r"(\*\*|\*)", pattern)))


def wanted(package: PinnedPackage, path: str) -> bool:
    return path == package.licence or any(path_pattern(pattern).fullmatch(path) for pattern in package.files)


def unpack(package: PinnedPackage, tarball: Path, folder: Path) -> None:
    """Write the files of ``tarball`` that ``package`` names into ``folder`` (emptied first), paths kept."""
    shutil.rmtree(folder, ignore_errors=True)
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive:
            path = PurePosixPath(member.name)
            # npm tarballs hold one top folder, "package/" by convention
            inside = PurePosixPath(*path.parts[1:]).as_posix() if len(path.parts) > 1 else ""
            if not member.isfile() or ".." in path.parts or path.is_absolute() or not wanted(package, inside):
                continue
            target = folder / inside
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.extractfile(member) as source, target.open("wb") as destination:
                shutil.copyfileobj(source, destination)
    if not (folder / package.licence).is_file():
        raise AssetUnavailable(f"{tarball} holds no {package.licence}: not the pinned {package.name} package")


def vendor(out_dir: Path, *names: str, cache: Path | None = None) -> dict[str, Path]:
    """Copy the files pages need from each named package into ``out_dir/_assets/<name>/``; return those folders.

    Each package's tarball comes from ``cache`` (``default_cache()`` unless given), or is downloaded once
    from the npm registry into it after its sha512 integrity is checked against the pinned one.
    """
    unknown = [name for name in names if name not in PACKAGES]
    if unknown or not names:
        raise ValueError(f"vendor() takes names among {sorted(PACKAGES)}, got {list(names)}")
    cache = cache or default_cache()
    folders = {}
    for name in names:
        package = PACKAGES[name]
        folders[name] = Path(out_dir) / ASSETS_FOLDER / name
        unpack(package, verified_tarball(package, cache), folders[name])
    return folders


def relative_url(page_folder: Path, target: Path) -> str:
    """The URL of ``target`` relative to a page in ``page_folder`` (``_assets/mathjax``, ``../_assets/...``)."""
    return Path(os.path.relpath(target, page_folder)).as_posix()


def mathjax_script(mathjax_folder_url: str) -> str:
    """The ``src`` of MathJax's script tag (``MATHJAX_CONFIG`` loaded), given the URL of the vendored ``mathjax``."""
    return f"{mathjax_folder_url}/MathJax.js?config={MATHJAX_CONFIG}"

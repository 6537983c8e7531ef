"""Vendoring reveal.js and MathJax from npm: integrity checked, cache reused, only what pages load copied.

All but the last test run against a small tarball made here, with the network replaced by a stub; the last
vendors the real pinned packages (downloaded once into the user's cache, as ``lrnn-course slides`` does).
"""

from __future__ import annotations

import io
import re
import tarfile
import urllib.error
from pathlib import Path

import pytest

from lrnn_course import web_assets

FILES = {
    "package/LICENSE": b"MIT, for the test",
    "package/dist/tool.js": b"console.log('tool');",
    "package/dist/theme/look.css": b"body { color: black; }",
    "package/dist/theme/fonts/face.woff": b"a font",
    "package/dist/esm/tool.esm.js": b"export default 1;",
    "package/docs/readme.md": b"not loaded by any page",
    "package/../outside.js": b"a member that would land outside the folder",
}


def tarball(files: dict[str, bytes]) -> bytes:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as archive:
        for name, content in files.items():
            member = tarfile.TarInfo(name)
            member.size = len(content)
            archive.addfile(member, io.BytesIO(content))
    return data.getvalue()


TARBALL = tarball(FILES)


@pytest.fixture
def fake_package(monkeypatch) -> web_assets.PinnedPackage:
    package = web_assets.PinnedPackage(
        "fake-pkg", "1.0.0", web_assets.sha512_integrity(TARBALL), files=("dist/*.js", "dist/theme/**")
    )
    monkeypatch.setitem(web_assets.PACKAGES, package.name, package)
    return package


@pytest.fixture
def registry(monkeypatch):
    """The network replaced: ``(asked, urlopen)``, the URLs asked for and the stand-in, which answers
    ``urlopen.answer`` (the tarball's bytes, or an exception to raise)."""
    asked: list[str] = []

    def urlopen(url, timeout):
        asked.append(url)
        if isinstance(urlopen.answer, Exception):
            raise urlopen.answer
        return io.BytesIO(urlopen.answer)

    urlopen.answer = TARBALL
    monkeypatch.setattr(web_assets.urllib.request, "urlopen", urlopen)
    monkeypatch.delenv("npm_config_registry", raising=False)
    return asked, urlopen


def test_a_download_is_verified_cached_and_only_the_files_pages_need_are_copied(tmp_path, fake_package, registry):
    asked, _ = registry
    folders = web_assets.vendor(tmp_path / "out", "fake-pkg", cache=tmp_path / "cache")
    folder = tmp_path / "out" / "_assets" / "fake-pkg"
    assert folders == {"fake-pkg": folder}
    assert asked == ["https://registry.npmjs.org/fake-pkg/-/fake-pkg-1.0.0.tgz"]
    assert sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()) == [
        "LICENSE",
        "dist/theme/fonts/face.woff",
        "dist/theme/look.css",
        "dist/tool.js",
    ], "* stays within a folder, ** goes into subfolders; nothing else, and nothing outside the folder"
    assert not (tmp_path / "out" / "_assets" / "outside.js").exists() and not (tmp_path / "out" / "outside.js").exists()
    assert (tmp_path / "cache" / "fake-pkg-1.0.0.tgz").read_bytes() == TARBALL


def test_a_cached_tarball_is_reused_without_the_network(tmp_path, fake_package, registry):
    asked, urlopen = registry
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "fake-pkg-1.0.0.tgz").write_bytes(TARBALL)
    urlopen.answer = urllib.error.URLError("no network here")
    web_assets.vendor(tmp_path / "out", "fake-pkg", cache=tmp_path / "cache")
    assert asked == [] and (tmp_path / "out" / "_assets" / "fake-pkg" / "dist" / "tool.js").is_file()


def test_a_tarball_whose_integrity_differs_is_refused_and_not_cached(tmp_path, fake_package, registry):
    _, urlopen = registry
    urlopen.answer = tarball({**FILES, "package/dist/tool.js": b"console.log('tampered');"})
    with pytest.raises(web_assets.AssetUnavailable, match=r"refusing .*fake-pkg-1\.0\.0\.tgz: its sha512 integrity"):
        web_assets.vendor(tmp_path / "out", "fake-pkg", cache=tmp_path / "cache")
    assert not (tmp_path / "cache" / "fake-pkg-1.0.0.tgz").exists()
    assert not (tmp_path / "out" / "_assets" / "fake-pkg").exists()


def test_a_cached_tarball_with_other_bytes_is_downloaded_again(tmp_path, fake_package, registry):
    asked, _ = registry
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "fake-pkg-1.0.0.tgz").write_bytes(b"a truncated download")
    web_assets.vendor(tmp_path / "out", "fake-pkg", cache=tmp_path / "cache")
    assert len(asked) == 1 and (tmp_path / "cache" / "fake-pkg-1.0.0.tgz").read_bytes() == TARBALL


def test_without_cache_or_network_the_error_says_what_to_do(tmp_path, fake_package, registry, monkeypatch):
    asked, urlopen = registry
    urlopen.answer = urllib.error.URLError("Name or service not known")
    monkeypatch.setenv("npm_config_registry", "https://npm.mirror.example/")
    with pytest.raises(web_assets.AssetUnavailable) as refusal:
        web_assets.vendor(tmp_path / "out", "fake-pkg", cache=tmp_path / "cache")
    assert asked == ["https://npm.mirror.example/fake-pkg/-/fake-pkg-1.0.0.tgz"], "npm's own mirror setting is used"
    message = str(refusal.value)
    assert "Name or service not known" in message and str(tmp_path / "cache") in message
    assert "npm_config_registry" in message and "copy fake-pkg-1.0.0.tgz into" in message


def test_unknown_names_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"names among \['mathjax', 'reveal.js'\], got \['jquery'\]"):
        web_assets.vendor(tmp_path, "jquery")


def test_urls_are_relative_to_the_page():
    out = Path("/somewhere/build/site")
    assert web_assets.relative_url(out, out / "_assets" / "mathjax") == "_assets/mathjax"
    assert web_assets.relative_url(out / "lessons", out / "_assets" / "mathjax") == "../_assets/mathjax"
    assert (
        web_assets.mathjax_script("../_assets/mathjax") == "../_assets/mathjax/MathJax.js?config=TeX-AMS_SVG-full,Safe"
    )


def test_the_pinned_packages_hold_what_the_decks_load(tmp_path):
    """The real tarballs (from the cache, or downloaded once): every file a deck loads, every font its theme's
    CSS names, and the licences."""
    folders = web_assets.vendor(tmp_path, "reveal.js", "mathjax")
    reveal, mathjax = folders["reveal.js"], folders["mathjax"]
    for path in (
        reveal / "LICENSE",
        reveal / "dist" / "reveal.js",
        reveal / "dist" / "reveal.css",
        reveal / "dist" / "theme" / "white.css",
        reveal / "plugin" / "notes" / "notes.js",
        mathjax / "LICENSE",
        mathjax / "MathJax.js",
        mathjax / "config" / "TeX-AMS_SVG-full.js",
        mathjax / "jax" / "output" / "SVG" / "fonts" / "TeX" / "fontdata.js",
    ):
        assert path.is_file(), path
    for stylesheet in (reveal / "dist" / "theme").rglob("*.css"):
        for target in re.findall(r"url\(([^)]+)\)", stylesheet.read_text(encoding="utf-8")):
            target = target.strip("'\"").split("?")[0].split("#")[0]
            assert not target.startswith(("http:", "https:", "//")), f"{stylesheet.name} loads {target}"
            if not target.startswith("data:"):
                assert (stylesheet.parent / target).is_file(), f"{stylesheet.name} names {target}, not copied"
    assert not (mathjax / "extensions" / "a11y").exists(), "only what the pages load is copied"

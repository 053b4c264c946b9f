"""Seed inputs made by the real tools (gzip, zip, jar, ar, fc-cache, gcc, py_compile), in a
scratch directory. A tool that is missing gives no seeds; the fuzzer still starts."""

from __future__ import annotations

import io
import marshal
import shutil
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import crafted_pycs

# Sources the pyc target verifies caches against (by content, as for an ostree checkout).
SOURCES = (
    crafted_pycs.SOURCE,
    b'"""Doc."""\nimport re\nPATTERN = re.compile("\\d+")\nSAME = 1 is 1\n',
    b"def f(a, *b, c=1.5, **d):\n    def g():\n        return a, c, 2j, b'x', ...\n"
    b"    return g if a in {1, 'two', (3, None)} else -10**40\n"
    b"class C:\n    x: int = 0\n    async def m(self):\n        async with self:\n"
    b"            return [i async for i in self]\n",
)


def _tool(*args: str, cwd: Path) -> bool:
    if shutil.which(args[0]) is None:
        return False
    done = subprocess.run(args, cwd=cwd, capture_output=True, check=False)
    return done.returncode == 0


def _files(scratch: Path) -> Path:
    """A few small files to pack."""
    src = scratch / "src"
    (src / "pkg" / "__pycache__").mkdir(parents=True, exist_ok=True)
    (src / "README").write_bytes(b"hello\n" * 40)
    (src / "pkg" / "mod.py").write_bytes(SOURCES[2])
    code = compile(SOURCES[2], "pkg/mod.py", "exec", dont_inherit=True)
    (src / "pkg" / "__pycache__" / f"mod.{sys.implementation.cache_tag}.pyc").write_bytes(
        crafted_pycs.header(SOURCES[2], 1_600_000_000) + marshal.dumps(code)
    )
    (src / "Main.class").write_bytes(bytes(range(256)))
    return src


def gzip(scratch: Path) -> list[bytes]:
    src = _files(scratch)
    seeds = []
    for args in (["gzip", "-kf", "README"], ["gzip", "-nkf9", "README"]):
        if _tool(*args, cwd=src):
            seeds.append((src / "README.gz").read_bytes())
    if seeds:
        seeds.append(seeds[0] + seeds[-1])  # two members
    return seeds


def zip_(scratch: Path) -> list[bytes]:
    src = _files(scratch)
    seeds = []
    for out, args in (
        ("a.zip", ["zip", "-qr", "a.zip", "README", "pkg"]),
        ("b.zip", ["zip", "-qrX0", "b.zip", "pkg", "README"]),
        ("c.jar", ["jar", "cf", "c.jar", "README", "Main.class"]),
    ):
        if _tool(*args, cwd=src):
            seeds.append((src / out).read_bytes())
    buffer = io.BytesIO()  # a zipimport archive: a pyc whose source is beside it
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted((src / "pkg").rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(src).as_posix())
    seeds.append(buffer.getvalue())
    for args in (["zip", "-qrfz", "d.zip", "README", "pkg"],):  # zip64 throughout
        if _tool(*args, cwd=src):
            seeds.append((src / "d.zip").read_bytes())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(src.rglob("*")):
            if path.is_file():
                with archive.open(path.relative_to(src).as_posix(), "w", force_zip64=True) as out:
                    out.write(path.read_bytes())
    seeds.append(buffer.getvalue())
    return seeds


def mo(scratch: Path) -> list[bytes]:
    """Catalogues by msgfmt, in both byte orders."""
    po = scratch / "a.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Project-Id-Version: a 1\\n"\n'
        '"POT-Creation-Date: 2026-01-02 03:04+0100\\n"\n'
        '"PO-Revision-Date: 2026-01-02 03:04+0100\\n"\n'
        '"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "hello"\nmsgstr "hallo"\n\nmsgid "one"\nmsgid_plural "many"\n'
        'msgstr[0] "eins"\nmsgstr[1] "viele"\n',
        encoding="utf-8",
    )
    seeds = []
    for order in ("little", "big"):
        if _tool("msgfmt", f"--endianness={order}", "-o", f"{order}.mo", "a.po", cwd=scratch):
            seeds.append((scratch / f"{order}.mo").read_bytes())
    return seeds


def png() -> list[bytes]:
    """PNGs by hand, with a tIME chunk and date text in tEXt, zTXt and iTXt."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
    idat = chunk(b"IDAT", zlib.compress(b"\0" + b"\xff" * 6 + b"\0" + b"\x00" * 6))
    date = b"2026-01-02T03:04:05+00:00"
    extras = (
        chunk(b"tIME", struct.pack(">HBBBBB", 2026, 1, 2, 3, 4, 5)),
        chunk(b"tEXt", b"date:create\0" + date),
        chunk(b"zTXt", b"date:modify\0\0" + zlib.compress(date)),
        chunk(b"iTXt", b"date:timestamp\0\0\0\0\0" + date),
    )
    head = b"\x89PNG\r\n\x1a\n" + ihdr
    return [head + b"".join(extras) + idat + chunk(b"IEND", b""), head + idat + chunk(b"IEND", b"")]


def javadoc() -> list[bytes]:
    return [
        b"<!DOCTYPE HTML>\n<!-- Generated by javadoc (17.0.15) on Mon Dec 07 11:22:33 UTC 2026"
        b' -->\n<html><head>\n<meta name="dc.created" content="2026-12-07">\n</head>\n'
        b"<body>x</body></html>\n",
        b"<!-- Generated by javadoc (build 1.8.0_292) on Tue Jan 05 01:02:03 CET 2021 -->\n"
        b'<meta name="date" content="2021-01-05">\n',
    ]


def shadow() -> list[bytes]:
    return [
        b"root:*:20000:0:99999:7:::\ndaemon:*:20000:0:99999:7:::\nuser:$6$x$y:0:0:99999:7:::\n"
        b"nobody:!:::::::\n",
    ]


def keystore(scratch: Path) -> list[bytes]:
    """A JKS and a JCEKS store made by keytool (password changeit), and one of another."""
    seeds = []
    for name, kind, password in (
        ("a.jks", "JKS", "changeit"),
        ("b.jceks", "JCEKS", "changeit"),
        ("c.jks", "JKS", "another"),
    ):
        args = ["keytool", "-genkeypair", "-keystore", name, "-storetype", kind]
        args += ["-storepass", password, "-keypass", password, "-alias", "a"]
        args += ["-dname", "CN=a", "-keyalg", "EC", "-validity", "1"]
        if _tool(*args, cwd=scratch):
            seeds.append((scratch / name).read_bytes())
    return seeds


def conda(cache_size: int, cache_mtime_ns: int) -> list[bytes]:
    """conda's and mamba's state of a cached repodata.json with this size and mtime."""
    return [
        b'{"url": "https://conda.example/x/noarch", "etag": "\\"abc\\"", '
        b'"mod": "Mon, 01 Jan 2026 00:00:00 GMT", "cache_control": "max-age=30", '
        b'"size": %d, "mtime_ns": %d}\n' % (cache_size, cache_mtime_ns),
        b'{"cache_size": 0, "mtime_ns": %d, "size": %d, "mtime": %d}'
        % (cache_mtime_ns, cache_size, cache_mtime_ns // 1_000_000_000),
    ]


def ar(scratch: Path) -> list[bytes]:
    src = _files(scratch)
    (src / "a_member_with_a_long_name.o").write_bytes(b"\x7fELF" + bytes(60))
    seeds = []
    for out, args in (
        ("a.a", ["ar", "rcU", "a.a", "README", "Main.class"]),
        ("b.a", ["ar", "rcD", "b.a", "a_member_with_a_long_name.o", "README"]),
    ):
        if _tool(*args, cwd=src):
            seeds.append((src / out).read_bytes())
    return seeds


def fontconfig(scratch: Path, font_dir: Path) -> list[bytes]:
    """Caches of `font_dir` made by fc-cache with a private configuration."""
    fonts = sorted(Path("/usr/share/fonts").rglob("*.ttf"))[:2]
    for font in fonts:
        shutil.copy(font, font_dir / font.name)
    cache = scratch / "fccache"
    cache.mkdir(exist_ok=True)
    conf = scratch / "fonts.conf"
    conf.write_text(f"<fontconfig><dir>{font_dir}</dir><cachedir>{cache}</cachedir></fontconfig>\n")
    if shutil.which("fc-cache") is None:
        return []
    subprocess.run(
        ["fc-cache", "-f"], env={"FONTCONFIG_FILE": str(conf)}, capture_output=True, check=False
    )
    return [path.read_bytes() for path in sorted(cache.glob("*-le64.cache-*"))]


def elf(scratch: Path) -> list[bytes]:
    (scratch / "hello.c").write_text(
        'const char *when = __DATE__ " " __TIME__; const char *where = __FILE__;\n'
        "int main(void) { return when[0] + where[0]; }\n"
    )
    seeds = []
    for out, args in (
        ("hello.o", ["gcc", "-g", "-c", str(scratch / "hello.c"), "-o", "hello.o"]),
        ("hello", ["gcc", "-Os", "-Wl,-rpath,/home/build/lib", "hello.c", "-o", "hello"]),
    ):
        if _tool(*args, cwd=scratch):
            seeds.append((scratch / out).read_bytes())
    return seeds


def pyc() -> list[bytes]:
    """Inputs of the pyc target: 0, source number, then a marshal stream; 1, then a whole file."""
    seeds = []
    for number, source in enumerate(SOURCES):
        for optimize in (0, 2):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                code = compile(source, "mod.py", "exec", dont_inherit=True, optimize=optimize)
            seeds.append(bytes([0, number]) + marshal.dumps(code))
            seeds.append(b"\1" + crafted_pycs.header(source) + marshal.dumps(code))
    crafted = crafted_pycs.bodies().values()
    seeds.extend(bytes([0, 0]) + body for body in crafted if len(body) < 4096)
    return seeds

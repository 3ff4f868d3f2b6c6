"""Compile and run Kotlin on the JVM for the bindings' tests, with the compiler `make setup`
installs (.venv/kotlinc, or $KOTLINC)."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KOTLIN_HOME = Path(os.environ.get("KOTLIN_HOME", ROOT / ".venv/kotlinc"))
KOTLINC = KOTLIN_HOME / "bin/kotlinc"
STDLIB = KOTLIN_HOME / "lib/kotlin-stdlib.jar"


def missing() -> str | None:
    """Why Kotlin cannot be compiled and run here, or None."""
    if not KOTLINC.exists():
        return f"no Kotlin compiler at {KOTLINC}: run `make setup` (it needs Node.js's npm)"
    if shutil.which("java") is None or shutil.which("javac") is None:
        return "no JDK (java, javac) on PATH: install one (Debian: openjdk-17-jdk-headless)"
    return None


def compile_kotlin(sources: list[Path], out: Path, classpath: list[Path] = ()) -> Path:
    """Classes of `sources` in `out`; AssertionError with the compiler's errors when it fails."""
    out.mkdir(parents=True, exist_ok=True)
    cp = ["-classpath", os.pathsep.join(map(str, classpath))] if classpath else []
    r = subprocess.run([str(KOTLINC), *cp, "-nowarn", "-d", str(out), *map(str, sources)],
                       capture_output=True, text=True, env={**os.environ, "JAVA_OPTS": "-Xss8m"})
    assert r.returncode == 0, f"kotlinc failed:\n{r.stderr[-5000:]}"
    return out


def compile_java(sources: list[Path], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["javac", "-d", str(out), *map(str, sources)], capture_output=True, text=True)
    assert r.returncode == 0, f"javac failed:\n{r.stderr[-5000:]}"
    return out


def run(classes: Path, main: str, *args, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(["java", "-cp", os.pathsep.join([str(classes), str(STDLIB)]), main, *map(str, args)],
                       capture_output=True, text=True)
    if check:
        assert r.returncode == 0, f"{main} {' '.join(map(str, args))} failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    return r

"""The CLI's edges: help, version, one-line errors with the right exit codes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import typer
from signals import default_sigint
from typer.testing import CliRunner

from hybridcode import __version__
from hybridcode.cli.app import HybridGroup, app
from hybridcode.errors import ConfigError

runner = CliRunner()


def test_help_lists_only_working_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "init" in result.output


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"hybrid {__version__}"


def test_unknown_command_is_a_usage_error():
    result = runner.invoke(app, ["no-such-command"])
    assert result.exit_code == 2


def test_project_error_is_one_line_with_advice(tmp_path):
    result = runner.invoke(app, ["init", str(tmp_path)])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: ") and "git init" in lines[0]
    assert "Traceback" not in result.output


def test_invalid_config_names_key_and_file_and_exits_2(repo):
    (repo / ".hybrid").mkdir()
    (repo / ".hybrid" / "config.toml").write_text("parallel = 0\n")
    result = runner.invoke(app, ["init", str(repo)])
    assert result.exit_code == 2
    assert "parallel" in result.stderr and "config.toml" in result.stderr


def _toy_app(exc: BaseException) -> typer.Typer:
    toy = typer.Typer(cls=HybridGroup)

    @toy.command()
    def boom() -> None:
        raise exc

    @toy.command()
    def other() -> None:  # a second command keeps typer in group mode
        pass

    return toy


def test_keyboard_interrupt_exits_130_with_one_line():
    result = runner.invoke(_toy_app(KeyboardInterrupt()), ["boom"])
    assert result.exit_code == 130
    assert len(result.stderr.strip().splitlines()) == 1


def test_unexpected_exception_is_one_line_pointing_at_debug():
    result = runner.invoke(_toy_app(RuntimeError("kaput")), ["boom"])
    assert result.exit_code == 1
    assert "HYBRID_DEBUG=1" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback(monkeypatch):
    monkeypatch.setenv("HYBRID_DEBUG", "1")
    result = runner.invoke(_toy_app(ConfigError("bad", "fix it")), ["boom"])
    assert isinstance(result.exception, ConfigError)


def test_real_process_ctrl_c_exits_130(tmp_path):
    script = tmp_path / "slow.py"
    script.write_text(
        "import time, typer\n"
        "from hybridcode.cli.app import HybridGroup\n"
        "app = typer.Typer(cls=HybridGroup)\n"
        "@app.command()\n"
        "def wait():\n"
        "    print('ready', flush=True); time.sleep(30)\n"
        "@app.command()\n"
        "def other(): pass\n"
        "app()\n")
    proc = subprocess.Popen([sys.executable, str(script), "wait"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_python_dash_m_works():
    out = subprocess.run([sys.executable, "-m", "hybridcode", "--version"],
                         capture_output=True, text=True, env={**os.environ}, check=True)
    assert out.stdout.strip() == f"hybrid {__version__}"

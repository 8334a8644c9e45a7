"""Where and how a benchmark's figures were measured, printed above its table so that
docs/benchmarks.md can name the machine and the command of every figure. Shared by the
drivers under bench/ (they put this folder on sys.path)."""
import os
import shlex
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def invocation(script, env_names=()):
    """The command that ran this driver: the named environment variables that are set,
    the script (as run from the checkout) and its arguments, shell-quoted."""
    env = [f"{k}={shlex.quote(os.environ[k])}" for k in env_names if k in os.environ]
    return " ".join(env + [script] + [shlex.quote(a) for a in sys.argv[1:]])


def machine_lines(command):
    """CPU model (lscpu), CPUs, memory, kernel, load, date, commit and the command."""
    try:
        cpu = next((l.split(":", 1)[1].strip() for l in subprocess.run(
            ["lscpu"], capture_output=True, text=True).stdout.splitlines()
            if l.startswith("Model name:")), "unknown (no lscpu model name)")
    except OSError:
        cpu = "unknown (no lscpu)"
    try:
        mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal:")) / 2**20
    except (OSError, StopIteration):
        mem = 0
    git = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty", "--abbrev=7"],
                         capture_output=True, text=True).stdout.strip() or "unknown"
    return [f"machine: {cpu}, {len(os.sched_getaffinity(0))} CPUs, {mem:.0f} GiB, Linux {os.uname().release}; "
            f"load average {os.getloadavg()[0]:.1f} at the end",
            f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; commit {git}",
            f"command: {command}"]

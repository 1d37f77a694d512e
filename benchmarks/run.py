"""``make bench``: run every benchmark module, then refresh the README table.

Every module in ``benchmarks/`` with a top-level ``main()`` is a benchmark (helpers such as
``pbx_env`` have none); each runs in its own process, the PBX ones (``pbx_*``, which move
themselves into a private network namespace) last. Each writes
``benchmarks/results/<name>.json``; this runner then rewrites the table between
``<!-- bench:start -->`` and ``<!-- bench:end -->`` in README.md (the markers are appended at
the end when missing) and nothing else in that file.

Invariants: a failing or timed-out benchmark is reported (exit status 1) but does not stop
the others; the table is built from the results files on disk, so ``--table-only`` refreshes
it without measuring anything.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common.extras import MissingExtra, require

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO / "benchmarks"
RESULTS = BENCH_DIR / "results"
README = REPO / "README.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
_MAIN = re.compile(r"^def main\(", re.MULTILINE)
# A module may need longer than the default (a full seed peak): ``TIMEOUT_S = <seconds>``.
_TIMEOUT = re.compile(r"^TIMEOUT_S = ([0-9 *+]+)", re.MULTILINE)
# A module that reads another's fresh results (the 2-node check reads the per-phase costs)
# says ``RUNS_LAST = True`` and runs after every other one.
_LAST = re.compile(r"^RUNS_LAST = True", re.MULTILINE)


def discover() -> list[str]:
    """Benchmark module names: non-PBX ones alphabetically, then the PBX ones, then those
    that run last."""
    texts = {
        p.stem: p.read_text(encoding="utf-8")
        for p in sorted(BENCH_DIR.glob("*.py"))
        if p.stem not in {"__init__", "run"}
    }
    names = [name for name, text in texts.items() if _MAIN.search(text)]
    return sorted(names, key=lambda n: (bool(_LAST.search(texts[n])), n.startswith("pbx_"), n))


def module_timeout(name: str, default_s: float) -> float:
    """The module's own ``TIMEOUT_S`` (a product of integers) if longer than the default."""
    found = _TIMEOUT.search((BENCH_DIR / f"{name}.py").read_text(encoding="utf-8"))
    if found is None:
        return default_s
    own = 1.0
    for term in found.group(1).replace(" ", "").split("*"):
        own *= float(term)
    return max(default_s, own)


def run_module(name: str, timeout_s: float) -> dict[str, Any]:
    timeout_s = module_timeout(name, timeout_s)
    started = time.monotonic()
    print(f"== benchmark {name}", file=sys.stderr, flush=True)
    command = [sys.executable, "-c", f"from benchmarks.{name} import main; main()"]
    try:
        done = subprocess.run(command, cwd=REPO, timeout=timeout_s, check=False)
        status = "ok" if done.returncode == 0 else f"failed (exit {done.returncode})"
    except subprocess.TimeoutExpired:
        status = f"timed out after {timeout_s:.0f} s"
    seconds = round(time.monotonic() - started, 1)
    print(f"== benchmark {name}: {status} in {seconds} s", file=sys.stderr, flush=True)
    return {"module": name, "status": status, "seconds": seconds}


def load_results() -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted(RESULTS.glob("*.json")):
        if path.stem == "bench_run":
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            print(f"skipping {path.name}: {exc}", file=sys.stderr)
            continue
        if isinstance(data, dict):
            out[path.stem] = data
    return out


# --- the README table: a few headline figures per benchmark, read defensively ---------------
Row = tuple[str, str, str, str]  # figure, value, target, met


def dig(data: Any, *path: str | int) -> Any:
    for key in path:
        in_dict = isinstance(data, dict) and key in data
        in_list = isinstance(data, list) and isinstance(key, int) and -len(data) <= key < len(data)
        if not (in_dict or in_list):
            return None
        data = data[key]
    return data


def fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
        return text + unit
    if isinstance(value, int):
        return f"{value:,}{unit}"
    return f"{value}{unit}"


def met(value: Any) -> str:
    return "-" if value is None else ("✅" if value else "❌")


def _agi_rows(d: dict[str, Any]) -> list[Row]:
    t = d.get("targets_met") or {}
    return [
        (
            "FastAGI commands per CPU-second",
            fmt(dig(d, "results", "dasan", "commands_per_cpu_s")),
            ">= 5,000",
            met(t.get("commands_per_cpu_s_at_least_5000")),
        ),
        (
            "FastAGI vs panoramisk (commands per CPU-s)",
            fmt(dig(d, "ratios", "commands_per_cpu_s_vs_panoramisk"), "x"),
            ">= 1x",
            met(t.get("not_slower_than_panoramisk")),
        ),
        (
            "FastAGI vs pyst2 process per call",
            fmt(dig(d, "ratios", "commands_per_cpu_s_vs_process_per_call"), "x"),
            ">= 20x",
            met(t.get("at_least_20x_process_per_call")),
        ),
        (
            "FastAGI p99 command turnaround",
            fmt(dig(d, "results", "dasan", "turnaround_ms", "p99"), " ms"),
            "",
            "",
        ),
    ]


def _ami_rows(d: dict[str, Any]) -> list[Row]:
    return [
        ("AMI ingestion, flood", fmt(dig(d, "flood", "events_per_s"), " events/s"), "", ""),
        (
            "AMI p99 lag at a paced rate",
            fmt(dig(d, "paced", "lag_ms", "p99"), " ms"),
            f"at {fmt(dig(d, 'paced', 'rate_events_per_s'))} events/s",
            "",
        ),
        ("AMI memory growth under load", fmt(dig(d, "rss_mb", "growth"), " MB"), "bounded", ""),
    ]


def _acd_rows(d: dict[str, Any]) -> list[Row]:
    p99 = dig(d, "decision", "routing_decision", "p99_us")
    target = dig(d, "target_p99_us")
    return [
        (
            "ACD routing decision p99",
            fmt(p99, " µs"),
            f"<= {fmt(target)} µs" if target else "",
            met(p99 <= target) if isinstance(p99, int | float) and target else "-",
        ),
        (
            "ACD simulator speed",
            fmt(dig(d, "simulator", "policies", "dasan", "calls_per_s"), " calls/s"),
            "",
            "",
        ),
    ]


def _ivr_rows(d: dict[str, Any]) -> list[Row]:
    runs = d.get("runs") or []
    best = max((r.get("sessions_per_s") or 0 for r in runs), default=None)
    return [
        ("IVR sessions through FastAGI (fake PBX)", fmt(best, " sessions/s"), "", ""),
        (
            "IVR menu stepper",
            fmt(dig(d, "stepper_only", "sessions_per_cpu_s"), " sessions/CPU-s"),
            "",
            "",
        ),
    ]


def _recordings_rows(d: dict[str, Any]) -> list[Row]:
    return [
        (
            "Recordings to Opus, CPU",
            fmt(dig(d, "opus", "cpu_s_per_audio_hour"), " CPU-s per audio hour"),
            "",
            "",
        ),
        (
            "Recordings, cores for the seed volume",
            fmt(dig(d, "opus", "cores_for_seed_volume")),
            "",
            "",
        ),
    ]


def _speech_rows(d: dict[str, Any]) -> list[Row]:
    return [
        ("Korean speech, menu words at 8 kHz", fmt(dig(d, "rates", "8000", "accuracy")), "", ""),
        ("Korean speech, menu words at 16 kHz", fmt(dig(d, "rates", "16000", "accuracy")), "", ""),
    ]


def _speech_menu_rows(d: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for run in d.get("runs") or []:
        pool = run.get("pool") or {}
        label = f"{run.get('callers')} callers, pool {pool.get('workers')}x{pool.get('streams_per_worker')}"
        targets = run.get("targets_met") or {}
        rows += [
            (
                f"Speech menu, {label}: event-loop lag p99",
                fmt(dig(run, "loop_lag_ms", "p99"), " ms"),
                "< 20 ms",
                met(targets.get("loop_lag_p99_below_20ms")),
            ),
            (
                f"Speech menu, {label}: FastAGI command turnaround p99",
                fmt(dig(run, "turnaround_ms", "p99"), " ms"),
                "< 50 ms",
                met(targets.get("turnaround_p99_below_50ms")),
            ),
            (
                f"Speech menu, {label}: CPU per listening second, engine / workers",
                f"{fmt(dig(run, 'cpu', 'engine_ms_per_listening_s'), ' ms')} / "
                f"{fmt(dig(run, 'cpu', 'workers_ms_per_listening_s'), ' ms')}",
                "",
                "",
            ),
            (
                f"Speech menu, {label}: callers listening with speech / keys only; words heard",
                _listeners(run),
                "",
                "",
            ),
        ]
    return rows


def _listeners(run: dict[str, Any]) -> str:
    window = run.get("window_s") or 0
    speech, keys = dig(run, "listening_s", "speech"), dig(run, "listening_s", "keys_only")
    if not window or speech is None or keys is None:
        return "-"
    words = run.get("words") or {}
    return (
        f"{speech / window:.1f} / {keys / window:.1f}; "
        f"{words.get('recognized')} of {words.get('said')}"
    )


def _pbx_rows(d: dict[str, Any]) -> list[Row]:
    s, r, t = d.get("series") or {}, d.get("ratios") or {}, d.get("targets_met") or {}

    def rate(name: str) -> str:
        return fmt(dig(s, name, "held_rate"), " calls/s")

    return [
        ("PBX ceiling: pure dialplan (9001)", rate("rate_dialplan"), "", ""),
        (
            "PBX ceiling: trivial FastAGI IVR (9003)",
            rate("rate_fastagi"),
            ">= 90 % of dialplan",
            met(t.get("fastagi_at_least_90pct_of_dialplan_ceiling")),
        ),
        ("PBX ceiling: raw Dial + MixMonitor (9002)", rate("rate_raw"), "", ""),
        ("PBX ceiling: IVR + ACD + recording (120)", rate("rate_full"), "", ""),
        # Not like with like (issue 18): the two series hold different phases and the first
        # overload signal is SIPp's; what each phase costs the PBX is `pbx_phases`.
        (
            "Calls up at the first overload signal, raw Dial + MixMonitor (9002), 3 new/s",
            fmt(dig(s, "concurrency_raw", "held_concurrency")),
            "not a media capacity",
            "",
        ),
        (
            "Calls up at the first overload signal, 120 flow (IVR, queue and talking mixed)",
            fmt(dig(s, "concurrency_full", "held_concurrency")),
            "not comparable with 9002",
            "",
        ),
        (
            "Raw PBX concurrency limited by",
            fmt(dig(s, "concurrency_raw", "limiter_at_onset")),
            "",
            "",
        ),
        (
            "Engine concurrency limited by",
            fmt(dig(s, "concurrency_full", "limiter_at_onset")),
            "",
            "",
        ),
        (
            "Engine CPU / Asterisk CPU, same calls (defaults)",
            fmt(r.get("engine_cpu_vs_asterisk_concurrency_run")),
            "< 0.10",
            met(t.get("engine_cpu_below_10pct_of_asterisk")),
        ),
        (
            "Engine CPU / Asterisk CPU, call path (keys, no speech, no transcription)",
            fmt(r.get("engine_cpu_vs_asterisk_call_path")),
            "< 0.10",
            met(t.get("engine_call_path_cpu_below_10pct_of_asterisk")),
        ),
        (
            "Engine CPU / Asterisk CPU, call path, Opus archiving (ffmpeg) left out",
            fmt(r.get("engine_cpu_vs_asterisk_call_path_without_archiving")),
            "",
            "",
        ),
        (
            "Engine CPU / Asterisk CPU, seed-length calls (3 min talk), archiving included",
            fmt(r.get("engine_cpu_vs_asterisk_seed_calls")),
            "< 0.10",
            met(t.get("engine_cpu_below_10pct_of_asterisk_seed_calls")),
        ),
        (
            "Engine CPU / Asterisk CPU, seed-length calls, Opus archiving left out",
            fmt(r.get("engine_cpu_vs_asterisk_seed_calls_without_archiving")),
            "< 0.10",
            met(t.get("engine_call_path_below_10pct_of_asterisk_seed_calls")),
        ),
    ]


def _seed_peak_rows(d: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    full = (
        ""
        if d.get("full_profile")
        else f" (trial: {d.get('profile')}, {fmt(d.get('placing_s'))} s of calls)"
    )
    for storage, run in (d.get("runs") or {}).items():
        t = run.get("targets_met") or {}
        calls = (
            f"{fmt(run.get('offered'))} offered, {fmt(run.get('answered'))} answered, "
            f"{fmt(run.get('abandoned'))} abandoned, {fmt(run.get('unserved'))} unserved"
        )
        cpu = run.get("cpu") or {}
        cores = ", ".join(
            f"{name} {fmt((cpu.get(name) or {}).get('cpu_pct_mean'))} %" for name in cpu
        )
        rows += [
            (
                f"Seed peak on {storage}{full}: calls",
                calls,
                "all answered or abandoned",
                met(t.get("every_call_answered_or_abandoned")),
            ),
            (
                f"Seed peak on {storage}: engine exits, handler crashes",
                f"{fmt(run.get('engine_exits'))}, {fmt(run.get('handler_crashes'))}",
                "0, 0",
                met(t.get("no_engine_exit") and t.get("no_handler_crash")),
            ),
            (
                f"Seed peak on {storage}: recordings audit",
                f"{fmt(run.get('audit_gaps'))} gaps",
                "clean",
                met(t.get("audit_clean")),
            ),
            (
                f"Seed peak on {storage}: service level, setup p50/p99",
                f"{fmt(run.get('service_level'))} in {fmt(run.get('service_level_s'))} s, "
                f"{fmt(run.get('setup_ms_p50'))}/{fmt(run.get('setup_ms_p99'))} ms",
                "",
                "",
            ),
            (f"Seed peak on {storage}: CPU (mean, % of one core)", cores, "", ""),
        ]
    return rows


def _soak_rows(d: dict[str, Any]) -> list[Row]:
    growth = d.get("rss_growth_mb_per_hour") or {}
    run = d.get("run") or {}
    label = f"Soak, {fmt(d.get('minutes'))} min of {d.get('profile')}"
    return [
        (
            f"{label}: RSS growth, Asterisk / engine",
            f"{fmt(growth.get('asterisk'))} / {fmt(growth.get('engine'))} MB/h",
            "flat",
            "",
        ),
        (
            f"{label}: calls, audit",
            f"{fmt(run.get('offered'))} offered, {fmt(run.get('answered'))} answered, "
            f"{fmt(run.get('audit_gaps'))} audit gaps",
            "clean",
            met(run.get("audit_ok")),
        ),
    ]


def _storage_writer_rows(d: dict[str, Any]) -> list[Row]:
    locked = d.get("locked") or {}
    return [
        (
            "Call-log write on the call path (enqueue) p99",
            fmt(dig(d, "throughput", "enqueue", "p99_us"), " µs"),
            "",
            "",
        ),
        (
            "Database writer throughput (SQLite, batched)",
            fmt(dig(d, "throughput", "applied_per_s"), " writes/s"),
            "",
            "",
        ),
        (
            f"Enqueue p99 while SQLite is locked {fmt(locked.get('lock_s'), ' s')}; catch-up",
            f"{fmt(dig(locked, 'enqueue_during_lock', 'p99_us'), ' µs')}; "
            f"{fmt(locked.get('backlog_at_release'))} writes in {fmt(locked.get('catch_up_s'), ' s')}",
            "",
            "",
        ),
    ]


def _video_rows(d: dict[str, Any]) -> list[Row]:
    video, audio = d.get("video_call") or {}, d.get("audio_call") or {}
    return [
        (
            "Asterisk CPU per call-second, video (VP8 passthrough) / audio",
            f"{fmt(video.get('asterisk_ms_per_call_s'), ' ms')} / "
            f"{fmt(audio.get('asterisk_ms_per_call_s'), ' ms')}",
            "",
            "",
        ),
        (
            "Video packets relayed per call-second (both directions)",
            fmt(video.get("video_packets_in_per_call_s")),
            "",
            "",
        ),
    ]


def _kb_rows(d: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    target = d.get("target_p99_ms") or 50
    for name, label in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
        part = d.get(name) or {}
        if part.get("skipped"):
            rows.append((f"Knowledge search on {label}", "skipped", "", "-"))
            continue
        p99 = dig(part, "latency", "p99_ms")
        rows.append(
            (
                f"Knowledge search p99, {fmt(part.get('cases'))} cases ({label})",
                fmt(p99, " ms"),
                f"< {fmt(target)} ms",
                met(p99 < target) if isinstance(p99, int | float) else "-",
            )
        )
        rows.append(
            (
                f"Knowledge search precision@5, {fmt(d.get('queries'))} labeled queries ({label})",
                f"{fmt(part.get('precision_at_5'))} (hit@5 {fmt(part.get('hit_at_5'))})",
                "",
                "",
            )
        )
    return rows


def _chat_rows(d: dict[str, Any]) -> list[Row]:
    p50, p99 = dig(d, "latency_ms", "p50"), dig(d, "latency_ms", "p99")
    chats, messages = d.get("chats") or 0, d.get("messages") or 0
    figure = (
        f"Chat message, citizen send to consultant screen, {fmt(chats)} concurrent chats x "
        f"{fmt(messages // chats if chats else None)} messages, engine and clients in one "
        f"process on {fmt(dig(d, 'machine', 'cpus'))} shared cores "
        f"({d.get('storage') or 'SQLite'}), p50 / p99; "
        f"{fmt(d.get('delivered'))} of {fmt(messages)} delivered"
    )
    ok = p99 < 200 and d.get("delivered") == d.get("messages") if p99 is not None else None
    return [(figure, f"{fmt(p50, ' ms')} / {fmt(p99, ' ms')}", "p99 < 200 ms", met(ok))]


def _assist_rows(d: dict[str, Any]) -> list[Row]:
    latency = d.get("latency_s") or {}
    worst, target = latency.get("max"), d.get("target_s") or 2.0
    figure = (
        f"Live suggestions, end of utterance to the desktop's channel, {fmt(d.get('utterances'))} "
        f"espeak-ng Korean questions over G.711 ({fmt(d.get('cases'))} cases), p50 / max; "
        f"{fmt(d.get('suggested'))} suggested, {fmt(d.get('matched'))} with the asked topic in "
        "the top 3"
    )
    ok = (
        worst <= target and d.get("suggested") == d.get("utterances") if worst is not None else None
    )
    return [
        (
            figure,
            f"{fmt(latency.get('p50'), ' s')} / {fmt(worst, ' s')}",
            f"<= {fmt(target)} s",
            met(ok),
        )
    ]


PHASE_LABELS = {
    "ivr": "IVR prompts",
    "speech_menu": "speech menu (the PBX records the caller)",
    "waiting": "waiting with music",
    "talking": "talking to a consultant",
}


def _phases_rows(d: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    headroom = d.get("headroom") or 0.7
    for phase, label in PHASE_LABELS.items():
        variants = dig(d, "phases", phase) or {}
        if not variants:
            continue
        figures = " / ".join(
            fmt(dig(variants, v, "ms_per_call_s")) for v in ("raw", "raw_recorded", "engine")
        )
        best = next(
            (
                dig(variants, v)
                for v in ("engine", "raw_recorded", "raw")
                if dig(variants, v, "ms_per_call_s")
            ),
            None,
        )
        per_core = (
            f"{fmt(best.get('calls_per_core'))} calls per core "
            f"({fmt(best.get(f'calls_per_core_at_{round(headroom * 100)}pct'))} at "
            f"{headroom:.0%})"
            if best
            else "-"
        )
        rows.append(
            (
                f"Asterisk ms CPU per call-second, {label}: raw / recorded / through the engine",
                f"{figures} ms; {per_core}",
                "",
                "",
            )
        )
    return rows


def _cluster_check_rows(d: dict[str, Any]) -> list[Row]:
    nodes = d.get("nodes") or {}
    per_node = "; ".join(
        f"{name} {fmt(n.get('asterisk_cores_measured'))} vs {fmt(n.get('asterisk_cores_predicted'))}"
        f" ({fmt(n.get('measured_vs_predicted'))}x)"
        for name, n in nodes.items()
    )
    little = d.get("littles_law") or {}
    return [
        (
            f"2 nodes, {fmt(d.get('calls'))} calls at {fmt(d.get('rate'))}/s: Asterisk cores "
            "per node measured vs predicted from the call log",
            per_node or "-",
            "within 25 %",
            met(
                all(0.75 <= (n.get("measured_vs_predicted") or 0) <= 1.25 for n in nodes.values())
                if nodes
                else None
            ),
        ),
        (
            "2 nodes: Asterisk cores per node, measured mean vs Little's law (`dasan cluster plan`)",
            f"{fmt(little.get('measured_mean_per_node'))} vs "
            f"{fmt(little.get('asterisk_cores_per_node'))} ({fmt(little.get('measured_vs_predicted'))}x)",
            "within 25 %",
            met(
                0.75 <= little["measured_vs_predicted"] <= 1.25
                if isinstance(little.get("measured_vs_predicted"), int | float)
                else None
            ),
        ),
    ]


EXTRACTORS = {
    "pbx_phases": _phases_rows,
    "pbx_cluster_check": _cluster_check_rows,
    "assist_latency": _assist_rows,
    "kb_search": _kb_rows,
    "chat_delivery": _chat_rows,
    "storage_writer": _storage_writer_rows,
    "agi_server": _agi_rows,
    "ami_ingest": _ami_rows,
    "acd": _acd_rows,
    "acd_decision": _acd_rows,
    "ivr_sessions": _ivr_rows,
    "recordings_pipeline": _recordings_rows,
    "speech_accuracy": _speech_rows,
    "speech_menu": _speech_menu_rows,
    "pbx_capacity": _pbx_rows,
    "pbx_seed_peak": _seed_peak_rows,
    "pbx_soak": _soak_rows,
    "pbx_video": _video_rows,
}


def _machine(results: dict[str, dict[str, Any]]) -> str:
    pbx = results.get("pbx_capacity") or {}
    m: dict[str, Any] = pbx.get("machine") or next(
        (r["machine"] for r in results.values() if isinstance(r.get("machine"), dict)), {}
    )
    parts = [
        f"{m.get('cores') or m.get('cpus')} cores" if (m.get("cores") or m.get("cpus")) else "",
        str(m.get("cpu_model") or ""),
        f"{m['ram_gb']} GB RAM" if m.get("ram_gb") else "",
        f"Linux {m['kernel']}" if m.get("kernel") else str(m.get("platform") or ""),
        str(m.get("asterisk") or "").split(" built by")[0],
    ]
    load = m.get("load_average")
    if isinstance(load, list) and load:
        parts.append("load average " + "/".join(str(x) for x in load) + " after the PBX runs")
    when = pbx.get("measured_at")
    text = ", ".join(p for p in parts if p)
    return (
        f"Measured on {text}" + (f" ({when}, commit {pbx.get('git_commit')})" if when else "") + "."
    )


def render_table(results: dict[str, dict[str, Any]]) -> str:
    lines = ["| benchmark | figure | value | target | met |", "| --- | --- | --- | --- | --- |"]
    for stem, data in results.items():
        extract = EXTRACTORS.get(str(data.get("benchmark") or stem)) or EXTRACTORS.get(stem)
        rows = extract(data) if extract else [("see the results file", "", "", "")]
        for figure, value, target, ok in rows:
            lines.append(f"| `{stem}` | {figure} | {value} | {target} | {ok} |")
    lines += ["", _machine(results) + " Details: `benchmarks/results/*.json`; run `make bench`."]
    return "\n".join(lines) + "\n"


def update_readme(readme: Path, table: str) -> bool:
    """Replace the text between the markers (append the markers at the end if missing)."""
    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    block = f"{START}\n{table.rstrip()}\n{END}"
    if START in text and END in text and text.index(START) < text.index(END):
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1]
        new = before + block + after
    else:
        new = text.rstrip("\n") + ("\n\n" if text else "") + "## Benchmarks\n\n" + block + "\n"
    if new != text:
        readme.write_text(new, encoding="utf-8")
        return True
    return False


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="run only these modules")
    parser.add_argument("--skip", nargs="*", default=[], help="do not run these modules")
    parser.add_argument("--table-only", action="store_true", help="only refresh the README")
    parser.add_argument("--timeout", type=float, default=3000.0, help="seconds per module")
    args = parser.parse_args(argv)
    runs: list[dict[str, Any]] = []
    if not args.table_only:
        try:
            for extra in ("bench", "load"):
                require(extra, "the benchmarks")
        except MissingExtra as exc:
            raise SystemExit(str(exc)) from exc
        names = [n for n in (args.only or discover()) if n not in args.skip]
        started = time.monotonic()
        runs = [run_module(name, args.timeout) for name in names]
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "bench_run.json").write_text(
            json.dumps({"runs": runs, "seconds": round(time.monotonic() - started, 1)}, indent=2)
            + "\n",
            encoding="utf-8",
        )
    changed = update_readme(README, render_table(load_results()))
    print(f"README benchmark table {'updated' if changed else 'unchanged'}", file=sys.stderr)
    failed = [r for r in runs if r["status"] != "ok"]
    if failed:
        print("failed: " + ", ".join(f"{r['module']} ({r['status']})" for r in failed))
        raise SystemExit(1)


if __name__ == "__main__":
    main()

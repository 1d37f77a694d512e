"""CDR CSV parsing is tolerant and folds several rows of one channel into one call."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from recordings.cdr import citizen_calls, parse_text, read_cdr

ROW = (
    '"","0212345678","{dst}","{ctx}","""Kim"" <0212345678>","PJSIP/trunk-00000001",'
    '"{dstchan}","{app}","","2026-11-28 09:00:00","{answer}","{end}",{dur},{bill},'
    '"{disp}","DOCUMENTATION","{uid}","{user}"{extra}\n'
)


def row(uid: str, **fields: object) -> str:
    values: dict[str, object] = {
        "dst": "120",
        "ctx": "dasan-citizen",
        "dstchan": "",
        "app": "AGI",
        "answer": "2026-11-28 09:00:00",
        "end": "2026-11-28 09:00:30",
        "dur": 30,
        "bill": 30,
        "disp": "ANSWERED",
        "uid": uid,
        "user": "",
        "extra": "",
    }
    values.update(fields)
    return ROW.format(**values)


def test_columns_are_read_by_position() -> None:
    parsed = parse_text(row("1764320400.1", extra=',"","1764320400.1",3'))
    [cdr] = parsed.rows
    assert (cdr.src, cdr.dst, cdr.dcontext, cdr.channel) == (
        "0212345678",
        "120",
        "dasan-citizen",
        "PJSIP/trunk-00000001",
    )
    assert cdr.answer == datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    assert (cdr.billsec, cdr.disposition, cdr.uniqueid, cdr.linkedid) == (
        30,
        "ANSWERED",
        "1764320400.1",
        "1764320400.1",
    )


def test_bad_lines_are_counted_not_fatal() -> None:
    text = "garbage\n" + '"a","b"\n' + row("") + row("1.1", answer="not a time") + "\n"
    parsed = parse_text(text)
    assert parsed.skipped == 3
    [cdr] = parsed.rows
    assert cdr.answer is None


def test_rows_of_one_channel_fold_into_one_call() -> None:
    text = (
        row("1.1", app="AGI", answer="2026-11-28 09:00:00", end="2026-11-28 09:00:45")
        + row(
            "1.1",
            dst="s",
            app="Dial",
            dstchan="PJSIP/c0001-1",
            answer="2026-11-28 09:00:45",
            end="2026-11-28 09:03:00",
        )
        + row("2.2", disp="NO ANSWER", answer="")
        + row("3.3", dst="7000", ctx="internal")
    )
    calls = citizen_calls(parse_text(text).rows, ["120"], [])
    assert list(calls) == ["1.1"]
    assert calls["1.1"].duration_ms == 180_000
    assert calls["1.1"].rows == 2
    assert list(citizen_calls(parse_text(text).rows, [], ["internal"])) == ["3.3"]


def test_several_files_are_read_together(tmp_path: Path) -> None:
    custom, csv_file = tmp_path / "custom.csv", tmp_path / "csv.csv"
    custom.write_text(row("1.1", extra=',"1.0"'))
    csv_file.write_text(row("2.2"))
    parsed = read_cdr(custom, csv_file, tmp_path / "missing.csv")
    assert [(r.uniqueid, r.linkedid) for r in parsed.rows] == [("1.1", "1.0"), ("2.2", "")]
    assert read_cdr(tmp_path / "missing.csv").rows == []
    assert list(citizen_calls(parsed.rows, [], [], ["citizen"])) == []


def test_raw_epoch_times_keep_their_milliseconds() -> None:
    """Our cdr_custom writes CDR(end,u): a call closed from the CDR has its exact length."""
    text = row("1795915582.526", answer="1795915552.584110", end="1795915582.526250")
    [cdr] = parse_text(text).rows
    assert cdr.answer == datetime(2026, 11, 29, 1, 25, 52, 584110, tzinfo=UTC)
    calls = citizen_calls(parse_text(text).rows, ["120"], [])
    assert calls["1795915582.526"].duration_ms == 29942


def test_raw_zero_answer_means_not_answered() -> None:
    [cdr] = parse_text(row("u1", answer="0.000000", disp="NO ANSWER")).rows
    assert cdr.answer is None and cdr.end is not None
